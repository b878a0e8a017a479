"""Image operations the core and the codecs share, as cv_bridge and image_transport do them.

:mod:`~percept.image.encoding` knows ROS image encodings, :mod:`~percept.image.convert`
converts between them (colour layout, Bayer, bit depth) and
:mod:`~percept.image.compress` reads and writes JPEG / PNG. Failures raise
:class:`percept.errors.CodecError`, as they did when these lived in the codecs.
"""

from percept.image.compress import compress_image, compression_of, decompress_image
from percept.image.convert import convert_image, debayer
from percept.image.encoding import color_format, encoding_info

__all__ = [
    "color_format",
    "compress_image",
    "compression_of",
    "convert_image",
    "debayer",
    "decompress_image",
    "encoding_info",
]
