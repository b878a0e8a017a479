"""One node on the local runtime, fed by hand, with everything it says collected.

``NodeHarness`` is how node tests drive a node: it builds the node with validated
parameters on a ``LocalRuntime``, feeds domain objects, ROS messages or CDR bytes on
its input topics, and keeps what the node published on each output, what each input
rejected and why, and the node's diagnostics::

    h = NodeHarness(RectifyNode, {"alpha": 1.0})
    h.feed_all({"image": image, "camera_info": info})
    rect = h.last("image_rect")
    assert h.rejections()["image"].rejected == 0
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Generic, NamedTuple, TypeVar

from percept import codecs
from percept.io.typestore import get_typestore
from percept.node import Node
from percept.runtime.local import Envelope, LocalRuntime
from percept.runtime.params import resolve_parameters

if TYPE_CHECKING:
    from percept.domain import DiagnosticStatus, TransformStamped
    from percept.runtime.host import NodeHost

__all__ = ["InputRejections", "NodeHarness"]

NodeT = TypeVar("NodeT", bound=Node)

_TF_MESSAGE = "tf2_msgs/msg/TFMessage"


class InputRejections(NamedTuple):
    """What one input refused: how many messages, and the reason given for the last."""

    rejected: int
    last_reason: str


class NodeHarness(Generic[NodeT]):
    """One node in its own ``LocalRuntime``, with its outputs collected per output name.

    Every ``feed`` runs the callbacks it triggers before returning (unless
    ``spin=False``), so outputs, rejections and diagnostics are up to date when the
    test looks at them. Diagnostics are read on demand (``diagnostics()``), not
    published on /diagnostics.

    Args:
        node_cls: the node class.
        params: parameter overrides, validated as a robot file's are.
        name: node name, default ``node_cls.NAME``.
        namespace: ROS namespace for the node's relative topics.
        remaps: ``{input/output name or declared topic: new topic}``.
        wire: ``outputs`` and ``last`` give each message as a ROS subscriber gets it:
            serialised to CDR and decoded back, which runs the codecs on the way.

    Raises:
        ConfigError: a parameter is unknown, of the wrong type or out of range, or the
            node refuses its configuration at start-up.
    """

    def __init__(
        self,
        node_cls: type[NodeT],
        params: Mapping[str, object] | None = None,
        *,
        name: str | None = None,
        namespace: str = "",
        remaps: Mapping[str, str] | None = None,
        wire: bool = False,
    ) -> None:
        node_name = name or node_cls.NAME
        self.node_cls = node_cls
        self.wire = wire
        self.runtime = LocalRuntime(publish_diagnostics=False)
        values = resolve_parameters(node_cls, node_name, namespace, overrides=params)
        self.host: NodeHost = self.runtime.add_node(
            node_cls, values, name=node_name, namespace=namespace, remaps=remaps
        )
        #: Every message published, by output name, in order.
        self.envelopes: dict[str, list[Envelope]] = {}
        for spec in node_cls.OUTPUTS:
            got: list[Envelope] = []
            self.envelopes[spec.name] = got
            self.runtime.subscribe(self.host.topics[spec.name], got.append)

    @property
    def node(self) -> NodeT:
        """The node instance."""
        node = self.host.node
        assert isinstance(node, self.node_cls)
        return node

    @property
    def topics(self) -> dict[str, str]:
        """Input/output name -> resolved topic."""
        return self.host.topics

    @property
    def now_ns(self) -> int:
        """The runtime clock: the latest receive time fed."""
        return self.runtime.now_ns()

    @property
    def errors(self) -> int:
        """Callbacks that raised something other than ``InputRejected`` (node bugs)."""
        return self.host.monitor.errors

    # -- feeding -------------------------------------------------------------------------
    def _recv_ns(self, recv_ns: int | None) -> int:
        return self.runtime.now_ns() + 1 if recv_ns is None else recv_ns

    def feed(
        self, input_name: str, obj: object, recv_ns: int | None = None, *, spin: bool = True
    ) -> int:
        """Put one message on an input's topic.

        Args:
            input_name: the declared input.
            obj: a domain object or a ROS (rosbags) message of the input's type.
            recv_ns: receive time, which drives the clock; default one nanosecond after
                the clock.
            spin: run the callbacks it triggers now.

        Returns:
            The receive time used.

        Raises:
            KeyError: the node declares no input ``input_name``.
        """
        recv = self._recv_ns(recv_ns)
        spec = self.node_cls.input(input_name)
        self.runtime.feed(self.host.topics[input_name], spec.msg_type, recv, obj=obj)
        if spin:
            self.spin()
        return recv

    def feed_all(
        self, objs: Mapping[str, object], recv_ns: int | None = None, *, spin: bool = True
    ) -> None:
        """``feed`` each ``{input name: message}`` in order (a synchronised set, say).

        With ``recv_ns`` None each message is received one nanosecond after the last.
        """
        for input_name, obj in objs.items():
            self.feed(input_name, obj, recv_ns, spin=spin)

    def feed_cdr(
        self, input_name: str, raw: bytes, recv_ns: int | None = None, *, spin: bool = True
    ) -> int:
        """Put serialised CDR bytes on an input's topic, as a bag or the wire delivers them.

        Returns:
            The receive time used.
        """
        recv = self._recv_ns(recv_ns)
        spec = self.node_cls.input(input_name)
        self.runtime.feed(self.host.topics[input_name], spec.msg_type, recv, raw=raw)
        if spin:
            self.spin()
        return recv

    def feed_transforms(
        self,
        transforms: Sequence[TransformStamped],
        recv_ns: int | None = None,
        *,
        static: bool = True,
        spin: bool = True,
    ) -> int:
        """Publish transforms on /tf_static (or /tf) into the runtime's TF buffer.

        Returns:
            The receive time used.
        """
        recv = self._recv_ns(recv_ns)
        topic = "/tf_static" if static else "/tf"
        self.runtime.feed(topic, _TF_MESSAGE, recv, obj=tuple(transforms))
        if spin:
            self.spin()
        return recv

    def spin(self) -> int:
        """Run every queued callback; returns how many ran."""
        return self.runtime.spin_until_idle()

    def set_parameters(self, values: Mapping[str, object]) -> str | None:
        """``ros2 param set`` on the node; returns the node's refusal reason, or None.

        Raises:
            ConfigError: unknown parameter, wrong type or out of range.
        """
        return self.runtime.set_parameters(self.host.name, values)

    # -- what the node said --------------------------------------------------------------
    def _message(self, output: str, env: Envelope) -> object:
        if not self.wire:
            return env.obj
        msgtype = self.node_cls.output(output).msg_type
        return codecs.decode(msgtype, get_typestore().deserialize_cdr(env.serialize(), msgtype))

    def outputs(self, output: str) -> list[object]:
        """Every message published on ``output``, in order.

        Raises:
            KeyError: the node declares no output ``output``.
        """
        return [self._message(output, env) for env in self.envelopes[output]]

    def count(self, output: str) -> int:
        """How many messages were published on ``output``."""
        return len(self.envelopes[output])

    def last(self, output: str) -> object:
        """The latest message published on ``output``.

        Raises:
            IndexError: nothing was published on it.
        """
        got = self.envelopes[output]
        if not got:
            msg = f"{self.host.name}: nothing published on output {output!r}"
            raise IndexError(msg)
        return self._message(output, got[-1])

    def rejections(self) -> dict[str, InputRejections]:
        """Per input: messages rejected (``InputRejected``, bad CDR) and the last reason."""
        return {
            name: InputRejections(stats.rejected, stats.last_reason)
            for name, stats in self.host.monitor.inputs.items()
        }

    def diagnostics(self) -> DiagnosticStatus:
        """The node's diagnostic status now, as /diagnostics would carry it."""
        return self.host.diagnostics()

    def diagnostic_values(self) -> dict[str, str]:
        """The key/value pairs of ``diagnostics()``."""
        return dict(self.diagnostics().values)
