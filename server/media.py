"""What an uploaded file really is, and images made safe to show (issue 14: "Safety").

Pure functions, no I/O: the upload path hands them bytes and stores what they return.

- :func:`sniff` names the type from the bytes, never from the client's claim or the file name (``filetype`` for
  binary formats; markup is recognised as HTML or SVG, so a ``.png`` that is HTML is HTML; other valid UTF-8 text
  is ``text/plain``).
- :func:`kind_of` maps a type to the tenant-configurable kinds (images, PDF, text, office documents, archives);
  HTML, SVG and everything unknown belong to no kind, so no tenant setting admits them.
- :func:`process_image` re-encodes an image from its pixels alone (EXIF, GPS, comments and colour profiles are
  dropped), turned upright first, with its pixel count bounded before anything is decoded (a decompression bomb is
  refused), and makes a thumbnail.
"""

from __future__ import annotations

import dataclasses
import io
import warnings
from typing import Final

import filetype
from PIL import Image, ImageOps

from .exceptions import FrontdeskError

__all__ = [
    "KINDS",
    "MAX_IMAGE_PIXELS",
    "THUMBNAIL_EDGE",
    "ImageRefused",
    "ProcessedImage",
    "kind_of",
    "process_image",
    "sniff",
]

#: The kinds a tenant can allow, and the types each admits (PROTOCOL.md, "Attachments").
KINDS: Final[dict[str, frozenset[str]]] = {
    "images": frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"}),
    "pdf": frozenset({"application/pdf"}),
    "text": frozenset({"text/plain"}),
    "office": frozenset(
        {
            "application/msword",
            "application/vnd.ms-excel",
            "application/vnd.ms-powerpoint",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            "application/vnd.oasis.opendocument.text",
            "application/vnd.oasis.opendocument.spreadsheet",
            "application/vnd.oasis.opendocument.presentation",
        }
    ),
    "archives": frozenset({"application/zip", "application/gzip", "application/x-tar", "application/x-7z-compressed"}),
}
#: Images larger than this many pixels are refused before they are decoded (about 40 megapixels).
MAX_IMAGE_PIXELS: Final = 40_000_000
#: The longer edge of a thumbnail, in pixels.
THUMBNAIL_EDGE: Final = 320
#: Bytes of the head that :func:`sniff` needs.
SNIFF_BYTES: Final = 8192

_MARKUP = (b"<!doctype html", b"<html", b"<head", b"<body", b"<script", b"<iframe", b"<svg", b"<?xml")
_PILLOW_FORMATS: Final = {"image/png": "PNG", "image/jpeg": "JPEG", "image/gif": "GIF", "image/webp": "WEBP"}


class ImageRefused(FrontdeskError):
    """An image that cannot be made safe: too many pixels, or not decodable as what its bytes claim."""


def sniff(head: bytes) -> str | None:
    """The MIME type of content starting with ``head`` (at least its first :data:`SNIFF_BYTES`), or None."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith(_MARKUP) or any(tag in text[:1024] for tag in (b"<svg", b"<html", b"<script")):
        return "image/svg+xml" if b"<svg" in text[:4096] else "text/html"
    found = filetype.guess(head)
    if found is not None:
        return str(found.mime)
    if head and b"\x00" not in head:
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as exc:
            if exc.start < len(head) - 4:  # a character cut at the end of the head is fine
                return None
        return "text/plain"
    return None


def kind_of(mime: str | None) -> str | None:
    """The kind (a key of :data:`KINDS`) that admits ``mime``, or None."""
    for kind, types in KINDS.items():
        if mime in types:
            return kind
    return None


@dataclasses.dataclass(frozen=True)
class ProcessedImage:
    """An image re-encoded from its pixels, and its thumbnail (JPEG, or PNG where there is transparency)."""

    data: bytes
    mime: str
    width: int
    height: int
    thumbnail: bytes
    thumbnail_mime: str


def process_image(data: bytes, mime: str, *, max_pixels: int = MAX_IMAGE_PIXELS) -> ProcessedImage:
    """Re-encode the image ``data`` (sniffed as ``mime``) without its metadata, and make its thumbnail.

    Raises :class:`ImageRefused` for more than ``max_pixels`` pixels (checked from the header, before decoding)
    or for bytes that do not decode. An animated GIF keeps its frames.
    """
    fmt = _PILLOW_FORMATS.get(mime)
    if fmt is None:
        raise ImageRefused(f"{mime} is not an image this server re-encodes")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=[fmt])
            width, height = image.size
            if width * height > max_pixels or width < 1 or height < 1:
                raise ImageRefused(f"the image is {width}×{height} pixels; the most is {max_pixels:,} pixels")
            frames = getattr(image, "n_frames", 1)
            if width * height * frames > max_pixels * 4:
                raise ImageRefused("the animation has too many frames")
            image.load()
        except ImageRefused:
            raise
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageRefused(f"the image cannot be decoded: {exc}") from None
        if fmt == "GIF" and frames > 1:
            out = io.BytesIO()
            clean_frames = [_pixels_only(frame.copy()) for frame in _frames(image)]
            clean_frames[0].save(
                out, "GIF", save_all=True, append_images=clean_frames[1:], loop=0, duration=image.info.get("duration")
            )
            encoded = out.getvalue()
            first = clean_frames[0]
        else:
            upright = _pixels_only(ImageOps.exif_transpose(image) or image)
            out = io.BytesIO()
            if fmt == "JPEG":
                upright.convert("RGB").save(out, "JPEG", quality=90, optimize=True)
            else:
                upright.save(out, fmt)
            encoded = out.getvalue()
            first = upright
        thumb = first.copy()
        thumb.thumbnail((THUMBNAIL_EDGE, THUMBNAIL_EDGE))
        thumb_out = io.BytesIO()
        has_alpha = thumb.mode in ("RGBA", "LA") or (thumb.mode == "P" and "transparency" in thumb.info)
        if has_alpha:
            thumb.convert("RGBA").save(thumb_out, "PNG")
        else:
            thumb.convert("RGB").save(thumb_out, "JPEG", quality=80)
        return ProcessedImage(
            data=encoded,
            mime=mime,
            width=first.size[0],
            height=first.size[1],
            thumbnail=thumb_out.getvalue(),
            thumbnail_mime="image/png" if has_alpha else "image/jpeg",
        )


def _frames(image: Image.Image) -> list[Image.Image]:
    frames = []
    for index in range(getattr(image, "n_frames", 1)):
        image.seek(index)
        frames.append(image.copy())
    return frames


def _pixels_only(image: Image.Image) -> Image.Image:
    """A new image with ``image``'s pixels (and palette) and nothing else: no EXIF, no text chunks, no profile."""
    mode = image.mode if image.mode in ("1", "L", "LA", "P", "RGB", "RGBA") else "RGBA"
    source = image if image.mode == mode else image.convert(mode)
    clean = Image.frombytes(mode, source.size, source.tobytes())
    if mode == "P":
        palette = source.getpalette()
        if palette is not None:
            clean.putpalette(palette)
        if "transparency" in source.info and isinstance(source.info["transparency"], int):
            clean.info["transparency"] = source.info["transparency"]
    return clean
