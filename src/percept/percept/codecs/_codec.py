"""The one helper that turns a message type's reader and writer into its public codec."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from percept.codecs._fields import MessageFactory
from percept.errors import codec_guard

__all__ = ["codec_functions"]

_Decoded = TypeVar("_Decoded")
_Encoded = TypeVar("_Encoded")


def codec_functions(
    msgtype: str,
    name: str,
    read: Callable[[object, str], _Decoded],
    write: Callable[[_Encoded, MessageFactory, str], object],
    decode_doc: str,
    encode_doc: str,
    /,
) -> tuple[Callable[[object], _Decoded], Callable[[_Encoded, MessageFactory], object]]:
    """The public ``decode_<name>`` and ``encode_<name>`` of one message type.

    ``decode_<name>(msg)`` is ``read(msg, msgtype)`` and ``encode_<name>(obj, factory)``
    is ``write(obj, factory, msgtype)``: ``msgtype`` starts every error message, and any
    exception other than CodecError becomes one naming ``msgtype``
    (:func:`percept.errors.codec_guard`). Both functions carry their public name and
    docstring and belong to the module that defines ``read``.

    Args:
        msgtype: ROS 2 type name, ``sensor_msgs/msg/Image``.
        name: suffix of the function names, ``image``.
        read: ``(msg, where) -> domain object``; raises CodecError naming fields after
            ``where``.
        write: ``(domain object, factory, where) -> message``; likewise.
        decode_doc: docstring of ``decode_<name>``.
        encode_doc: docstring of ``encode_<name>``.

    Returns:
        ``(decode_<name>, encode_<name>)``.
    """

    def decode(msg: object) -> _Decoded:
        return read(msg, msgtype)

    def encode(obj: _Encoded, factory: MessageFactory) -> object:
        return write(obj, factory, msgtype)

    for function, action, doc in ((decode, "decode", decode_doc), (encode, "encode", encode_doc)):
        function.__name__ = function.__qualname__ = f"{action}_{name}"
        function.__doc__ = doc
        function.__module__ = read.__module__
    return codec_guard(msgtype, "decode")(decode), codec_guard(msgtype, "encode")(encode)
