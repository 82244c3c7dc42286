"""Types from the bytes, and images made safe: server/media.py."""

from __future__ import annotations

import io
import zipfile

import pytest
from frontdesk.server.media import ImageRefused, kind_of, process_image, sniff
from PIL import Image


def _image(fmt: str, size: tuple[int, int] = (64, 48), mode: str = "RGB", **save: object) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, "#3366cc" if mode != "1" else 1).save(out, fmt, **save)
    return out.getvalue()


def _jpeg_with_gps() -> bytes:
    image = Image.new("RGB", (80, 40), "#cc3333")
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to view
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (52.0, 31.0, 12.0)
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


@pytest.mark.parametrize(
    ("content", "mime"),
    [
        (_image("PNG"), "image/png"),
        (_image("JPEG"), "image/jpeg"),
        (_image("GIF"), "image/gif"),
        (_image("WEBP"), "image/webp"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "application/pdf"),
        ("Order 2041: 3 × chairs, ready on Tuesday.\n".encode(), "text/plain"),
        (b"<!DOCTYPE html><html><script>alert(1)</script>", "text/html"),
        (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "image/svg+xml"),
        (b"\x00\x01\x02\x03binary junk\xff\xfe", None),
    ],
)
def test_the_type_comes_from_the_bytes(content: bytes, mime: str | None) -> None:
    """Images, PDF, text, HTML and SVG are told apart by their bytes; unknown binary is None."""
    assert sniff(content) == mime


def test_a_png_name_does_not_make_html_an_image() -> None:
    """HTML saved as "invoice.png" is still HTML, which no tenant kind admits."""
    spoofed = b"\n  <html><body><img src=x onerror=alert(1)></body></html>"
    assert sniff(spoofed) == "text/html" and kind_of(sniff(spoofed)) is None
    assert kind_of(sniff(b"<svg/onload=alert(1)>")) is None


def test_office_documents_and_archives_have_their_kinds() -> None:
    """A .docx (a zip with word/ parts) is an office document; a plain zip is an archive."""
    docx, plain = io.BytesIO(), io.BytesIO()
    with zipfile.ZipFile(docx, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document/>")
    with zipfile.ZipFile(plain, "w") as z:
        z.writestr("notes.txt", "hello")
    assert kind_of(sniff(docx.getvalue())) == "office"
    assert kind_of(sniff(plain.getvalue())) == "archives"
    assert kind_of("image/png") == "images" and kind_of("application/pdf") == "pdf" and kind_of(None) is None


def test_an_image_is_reencoded_upright_without_its_exif_and_gps() -> None:
    """The stored bytes carry no EXIF (no maker, no GPS); the picture is turned as its orientation tag said."""
    original = _jpeg_with_gps()
    assert b"PhoneMaker" in original
    done = process_image(original, "image/jpeg")
    assert b"PhoneMaker" not in done.data and b"GPS" not in done.data
    reopened = Image.open(io.BytesIO(done.data))
    assert len(reopened.getexif()) == 0 and reopened.info.get("exif") is None
    assert (done.width, done.height) == (40, 80) == reopened.size  # rotated upright
    thumb = Image.open(io.BytesIO(done.thumbnail))
    assert max(thumb.size) <= 320 and done.thumbnail_mime == "image/jpeg"


def test_png_text_chunks_are_dropped_and_transparency_gets_a_png_thumbnail() -> None:
    """A PNG's text chunks do not survive; a transparent image's thumbnail stays PNG."""
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "secret address 12 Elm St")
    out = io.BytesIO()
    Image.new("RGBA", (500, 200), (0, 0, 0, 0)).save(out, "PNG", pnginfo=info)
    done = process_image(out.getvalue(), "image/png")
    assert b"Elm St" not in done.data and done.thumbnail_mime == "image/png"
    assert Image.open(io.BytesIO(done.thumbnail)).size == (320, 128)


def test_a_decompression_bomb_is_refused_before_it_is_decoded() -> None:
    """An image declaring more pixels than allowed is refused from its header."""
    bomb = _image("PNG", size=(10_000, 10_000), mode="1")
    assert len(bomb) < 100_000  # tiny on the wire, 100 megapixels decoded
    with pytest.raises(ImageRefused, match="pixels"):
        process_image(bomb, "image/png")


def test_broken_image_bytes_and_non_images_are_refused() -> None:
    """Bytes that do not decode as their sniffed format, and types that are not images, are ImageRefused."""
    png = _image("PNG")
    with pytest.raises(ImageRefused):
        process_image(png[: len(png) // 2], "image/png")
    with pytest.raises(ImageRefused):
        process_image(png, "application/pdf")


def test_an_animated_gif_keeps_its_frames() -> None:
    """Re-encoding an animation keeps every frame."""
    frames = [Image.new("RGB", (30, 30), colour) for colour in ("red", "green", "blue")]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    done = process_image(out.getvalue(), "image/gif")
    again = Image.open(io.BytesIO(done.data))
    colours = []
    for index in range(getattr(again, "n_frames", 1)):
        again.seek(index)
        colours.append(again.convert("RGB").getpixel((1, 1)))
    assert colours == [(255, 0, 0), (0, 128, 0), (0, 0, 255)]
