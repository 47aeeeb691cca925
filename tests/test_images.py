"""Specification of cleancut.imageread and cleancut.imagewrite: reading what users have, writing masks and cut-outs.

Every test builds its own small input with Pillow (or, where Pillow cannot write the format,
byte by byte with the helpers at the bottom) in a temporary folder.
"""

from __future__ import annotations

import errno
import io
import os
import struct
import warnings
import zlib

import numpy as np
import pytest
from PIL import Image, ImageCms

from cleancut import imageread, imagewrite
from cleancut.errors import CleancutError, ImageError
from cleancut.imageread import DEFAULT_MAX_PIXELS, Picture, read_image, to_rgb8
from cleancut.imagewrite import SUPPORTED_OUTPUT_FORMATS, write_image

ORIENTATION = 0x0112
MAKE = 0x010F

# A 2 x 3 picture whose six pixels all differ, so any rotation or flip shows.
SIX = np.array(
    [
        [[10, 0, 0], [20, 0, 0], [30, 0, 0]],
        [[40, 0, 0], [50, 0, 0], [60, 0, 0]],
    ],
    dtype=np.uint8,
)


def exif_bytes(orientation: int | None = None, make: str | None = None) -> bytes:
    exif = Image.Exif()
    if orientation is not None:
        exif[ORIENTATION] = orientation
    if make is not None:
        exif[MAKE] = make
    return exif.tobytes()


def exif_tags(data: bytes | None) -> Image.Exif:
    exif = Image.Exif()
    if data:
        exif.load(data)
    return exif


def srgb_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def random_uint16(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 65536, shape, dtype=np.uint16)


def random_uint8(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


# ---- EXIF orientation


@pytest.mark.parametrize(
    ("orientation", "upright"),
    [
        (3, [[60, 50, 40], [30, 20, 10]]),  # stored upside down
        (6, [[40, 10], [50, 20], [60, 30]]),  # stored turned 90 degrees counter-clockwise
        (8, [[30, 60], [20, 50], [10, 40]]),  # stored turned 90 degrees clockwise
    ],
)
def test_exif_orientation_is_applied_to_the_pixels(tmp_path, orientation, upright):
    path = tmp_path / "turned.png"
    Image.fromarray(SIX).save(path, exif=exif_bytes(orientation))

    picture = read_image(path)

    assert picture.rgb[..., 0].tolist() == upright
    assert picture.size == (len(upright[0]), len(upright))


def test_exif_orientation_is_reset_to_1_and_other_tags_are_kept(tmp_path):
    path = tmp_path / "turned.png"
    Image.fromarray(SIX).save(path, exif=exif_bytes(6, make="Camera Maker"))

    tags = exif_tags(read_image(path).exif)

    assert tags[ORIENTATION] == 1
    assert tags[MAKE] == "Camera Maker"


def test_exif_is_otherwise_passed_on_byte_for_byte(tmp_path):
    path = tmp_path / "turned.jpg"
    Image.fromarray(SIX).save(path, exif=exif_bytes(6, make="Camera Maker"))

    assert read_image(path).exif == exif_bytes(1, make="Camera Maker")


def test_exif_orientation_of_a_jpeg_is_applied(tmp_path):
    path = tmp_path / "portrait.jpg"
    landscape = np.zeros((32, 48, 3), dtype=np.uint8)
    landscape[:16, :16] = 255  # white top-left corner; turned clockwise it is top-right
    Image.fromarray(landscape).save(path, exif=exif_bytes(6), quality=95)

    picture = read_image(path)

    assert picture.size == (32, 48)
    assert picture.rgb[4, 28].min() > 230 and picture.rgb[4, 4].max() < 25
    assert exif_tags(picture.exif)[ORIENTATION] == 1
    assert picture.format == "JPEG"


def test_an_image_without_exif_has_none(tmp_path):
    path = tmp_path / "plain.png"
    Image.fromarray(SIX).save(path)

    assert read_image(path).exif is None


# ---- 16-bit inputs


def test_16bit_grey_png_keeps_exact_values(tmp_path):
    path = tmp_path / "grey16.png"
    grey = random_uint16((5, 7))
    Image.fromarray(grey).save(path)

    picture = read_image(path)

    assert picture.bit_depth == 16
    assert picture.rgb.dtype == np.uint16
    assert np.array_equal(picture.rgb, np.stack([grey] * 3, axis=-1))
    assert picture.alpha is None


def test_16bit_rgb_png_keeps_exact_values(tmp_path):
    path = tmp_path / "rgb16.png"
    rgb = random_uint16((9, 11, 3))
    write_png16_by_hand(path, rgb)  # rows use all five PNG filter types

    picture = read_image(path)

    assert picture.bit_depth == 16
    assert np.array_equal(picture.rgb, rgb)
    assert picture.alpha is None


def test_16bit_rgba_png_keeps_exact_values(tmp_path):
    path = tmp_path / "rgba16.png"
    rgba = random_uint16((9, 11, 4))
    write_png16_by_hand(path, rgba)

    picture = read_image(path)

    assert picture.bit_depth == 16
    assert np.array_equal(picture.rgb, rgba[..., :3])
    assert np.array_equal(picture.alpha, rgba[..., 3])


def test_16bit_grey_alpha_png_keeps_exact_values(tmp_path):
    path = tmp_path / "la16.png"
    grey_alpha = random_uint16((9, 11, 2))
    write_png16_by_hand(path, grey_alpha)

    picture = read_image(path)

    assert picture.bit_depth == 16
    assert np.array_equal(picture.rgb, np.stack([grey_alpha[..., 0]] * 3, axis=-1))
    assert np.array_equal(picture.alpha, grey_alpha[..., 1])


def test_interlaced_16bit_png_keeps_exact_values(tmp_path):
    path = tmp_path / "interlaced16.png"
    rgba = random_uint16((13, 11, 4))
    write_interlaced_png16_by_hand(path, rgba)

    picture = read_image(path)

    assert np.array_equal(picture.rgb, rgba[..., :3])
    assert np.array_equal(picture.alpha, rgba[..., 3])


def test_16bit_rgb_png_with_a_transparent_colour_key_gets_an_alpha(tmp_path):
    path = tmp_path / "keyed16.png"
    rgb = random_uint16((4, 5, 3))
    rgb[1, 2] = (1000, 2000, 3000)
    write_png16_by_hand(path, rgb, transparent=(1000, 2000, 3000))

    picture = read_image(path)

    expected = np.full((4, 5), 65535, dtype=np.uint16)
    expected[1, 2] = 0
    assert np.array_equal(picture.rgb, rgb)
    assert np.array_equal(picture.alpha, expected)


def test_16bit_grey_tiff_keeps_exact_values(tmp_path):
    path = tmp_path / "grey16.tif"
    grey = random_uint16((5, 7))
    Image.fromarray(grey).save(path, compression="tiff_adobe_deflate")

    picture = read_image(path)

    assert picture.bit_depth == 16
    assert np.array_equal(picture.rgb[..., 1], grey)


@pytest.mark.parametrize("channels", [3, 4])
@pytest.mark.parametrize("byte_order", ["<", ">"])
@pytest.mark.parametrize("deflate", [False, True], ids=["uncompressed", "deflate"])
def test_16bit_colour_tiff_keeps_exact_values(tmp_path, channels, byte_order, deflate):
    path = tmp_path / "colour16.tif"
    pixels = random_uint16((6, 9, channels))
    write_tiff16_by_hand(path, pixels, byte_order, deflate)

    picture = read_image(path)

    assert picture.bit_depth == 16
    assert np.array_equal(picture.rgb, pixels[..., :3])
    if channels == 4:
        assert np.array_equal(picture.alpha, pixels[..., 3])
    else:
        assert picture.alpha is None


def test_the_arrays_are_contiguous_and_writeable(tmp_path):
    path = tmp_path / "turned.png"
    Image.fromarray(np.dstack([SIX, SIX[..., :1]])).save(path, exif=exif_bytes(6))

    picture = read_image(path)

    for array in (picture.rgb, picture.alpha):
        assert array.flags.c_contiguous and array.flags.writeable


def test_to_rgb8_rounds_16bit_values_to_the_nearest_8bit_value():
    rgb = np.array([[[0, 128, 129], [257, 385, 386], [65406, 65407, 65535]]], dtype=np.uint16)
    picture = Picture(rgb=rgb, alpha=None, bit_depth=16, icc_profile=None, exif=None, format="PNG")

    assert to_rgb8(picture).tolist() == [[[0, 0, 1], [1, 1, 2], [254, 255, 255]]]
    assert to_rgb8(picture).dtype == np.uint8


def test_to_rgb8_returns_8bit_pixels_unchanged(tmp_path):
    path = tmp_path / "rgb.png"
    Image.fromarray(SIX).save(path)
    picture = read_image(path)

    assert to_rgb8(picture) is picture.rgb
    assert picture.bit_depth == 8


# ---- colour modes


def test_grey_becomes_three_equal_channels_without_alpha(tmp_path):
    path = tmp_path / "grey.png"
    grey = random_uint8((4, 6))
    Image.fromarray(grey).save(path)

    picture = read_image(path)

    assert picture.rgb.dtype == np.uint8
    assert np.array_equal(picture.rgb, np.stack([grey] * 3, axis=-1))
    assert picture.alpha is None


def test_grey_with_alpha_keeps_its_alpha(tmp_path):
    path = tmp_path / "grey_alpha.png"
    grey_alpha = random_uint8((4, 6, 2))
    grey, alpha = Image.fromarray(grey_alpha[..., 0]), Image.fromarray(grey_alpha[..., 1])
    Image.merge("LA", [grey, alpha]).save(path)

    picture = read_image(path)

    assert np.array_equal(picture.rgb, np.stack([grey_alpha[..., 0]] * 3, axis=-1))
    assert np.array_equal(picture.alpha, grey_alpha[..., 1])


def test_palette_without_transparency_becomes_rgb_without_alpha(tmp_path):
    path = tmp_path / "palette.png"
    image = Image.new("P", (3, 1))
    image.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255])
    image.putdata([0, 1, 2])
    image.save(path)

    picture = read_image(path)

    assert picture.rgb.tolist() == [[[255, 0, 0], [0, 255, 0], [0, 0, 255]]]
    assert picture.alpha is None


def test_palette_with_a_transparent_index_gets_an_alpha(tmp_path):
    path = tmp_path / "palette.png"
    image = Image.new("P", (3, 1))
    image.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255])
    image.putdata([0, 1, 2])
    image.save(path, transparency=1)

    picture = read_image(path)

    assert picture.alpha.tolist() == [[255, 0, 255]]
    assert picture.rgb[0, 0].tolist() == [255, 0, 0]


def test_rgba_keeps_its_alpha_exactly(tmp_path):
    path = tmp_path / "rgba.png"
    rgba = random_uint8((5, 7, 4))
    Image.fromarray(rgba).save(path)

    picture = read_image(path)

    assert np.array_equal(picture.rgb, rgba[..., :3])
    assert np.array_equal(picture.alpha, rgba[..., 3])


def test_1bit_image_becomes_black_and_white(tmp_path):
    path = tmp_path / "bilevel.png"
    image = Image.new("1", (2, 1))
    image.putdata([0, 255])
    image.save(path)

    picture = read_image(path)

    assert picture.rgb.tolist() == [[[0, 0, 0], [255, 255, 255]]]
    assert picture.bit_depth == 8


CMYK_SWATCHES = [(0, 0, 0, 0), (255, 0, 0, 0), (0, 0, 0, 255), (128, 64, 0, 32)]


def test_cmyk_tiff_without_profile_uses_pillows_conversion(tmp_path):
    path = tmp_path / "cmyk.tif"
    cmyk = Image.frombytes("CMYK", (4, 1), bytes(sum(CMYK_SWATCHES, ())))
    cmyk.save(path)

    picture = read_image(path)

    assert picture.rgb.tolist() == [[[255, 255, 255], [0, 255, 255], [0, 0, 0], [111, 167, 223]]]
    assert np.array_equal(picture.rgb, np.asarray(cmyk.convert("RGB")))
    assert picture.icc_profile is None


def test_cmyk_jpeg_without_profile_becomes_rgb(tmp_path):
    path = tmp_path / "cmyk.jpg"
    blocks = np.repeat(np.array(CMYK_SWATCHES[:3], dtype=np.uint8), 16, axis=0)[None].repeat(16, axis=0)
    Image.frombytes("CMYK", (48, 16), blocks.tobytes()).save(path, quality=100)

    picture = read_image(path)

    assert picture.rgb[8, [8, 24, 40]].tolist() == [[255, 255, 255], [0, 255, 255], [0, 0, 0]]
    assert picture.format == "JPEG"
    assert picture.icc_profile is None


def test_cmyk_with_an_embedded_profile_is_converted_through_it_to_srgb(tmp_path):
    path = tmp_path / "cmyk_profiled.tif"
    cyan = Image.frombytes("CMYK", (1, 1), bytes([255, 0, 0, 0]))
    cyan.save(path, icc_profile=grey_press_cmyk_profile())

    picture = read_image(path)

    red, green, blue = picture.rgb[0, 0].tolist()
    assert red == green == blue and 60 < red < 200  # this press prints cyan as mid grey
    profile = ImageCms.ImageCmsProfile(io.BytesIO(picture.icc_profile))
    assert "sRGB" in ImageCms.getProfileDescription(profile)


# ---- ICC profiles


def test_the_input_icc_profile_is_returned(tmp_path):
    path = tmp_path / "tagged.png"
    profile = srgb_profile()
    Image.fromarray(SIX).save(path, icc_profile=profile)

    assert read_image(path).icc_profile == profile


def test_an_image_without_icc_profile_has_none(tmp_path):
    path = tmp_path / "untagged.png"
    Image.fromarray(SIX).save(path)

    assert read_image(path).icc_profile is None


@pytest.mark.parametrize("suffix", [".png", ".webp", ".tiff"])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_write_embeds_the_icc_profile(tmp_path, suffix, dtype):
    path = tmp_path / f"out{suffix}"
    profile = srgb_profile()

    write_image(path, np.zeros((2, 2, 4), dtype=dtype), icc_profile=profile)

    assert read_image(path).icc_profile == profile


def test_write_leaves_an_rgb_profile_out_of_a_grey_mask(tmp_path):
    path = tmp_path / "mask.png"

    write_image(path, np.zeros((2, 2), dtype=np.uint8), icc_profile=srgb_profile())

    assert read_image(path).icc_profile is None


# ---- decompression bombs


def test_an_image_over_the_limit_is_refused_from_its_header_with_a_way_out(tmp_path):
    path = tmp_path / "bomb.png"
    write_png_header_only(path, width=20_000, height=10_000)  # 200 MP declared, no pixel data

    with pytest.raises(ImageError) as caught:
        read_image(path)

    message = str(caught.value)
    assert str(path) in message
    assert "200.0 megapixels" in message
    assert "limit of 150 megapixels" in message
    assert "--max-megapixels 200" in message


def test_the_limit_is_the_callers_max_pixels(tmp_path):
    path = tmp_path / "small.png"
    Image.fromarray(np.zeros((40, 50), dtype=np.uint8)).save(path)

    with pytest.raises(ImageError, match=r"0\.0 megapixels.*limit of 0\.0019"):
        read_image(path, max_pixels=1999)
    assert read_image(path, max_pixels=2000).size == (50, 40)


def test_pillows_own_limit_neither_applies_nor_changes(tmp_path, monkeypatch):
    path = tmp_path / "big_for_pillow.tif"
    Image.fromarray(np.zeros((40, 50), dtype=np.uint8)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # Pillow would warn at 100, fail at 200

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        picture = read_image(path, max_pixels=2000)

    assert picture.size == (50, 40)
    assert Image.MAX_IMAGE_PIXELS == 100


def test_the_default_limit_is_150_megapixels():
    assert DEFAULT_MAX_PIXELS == 150_000_000


# ---- unreadable inputs


def assert_one_line_naming(error: ImageError, path, *phrases: str) -> None:
    message = str(error)
    assert "\n" not in message
    assert str(path) in message
    for phrase in phrases:
        assert phrase in message
    assert "BytesIO" not in message and "Traceback" not in message
    assert isinstance(error, CleancutError)


def test_a_truncated_png_is_reported_as_damaged(tmp_path):
    path = tmp_path / "cut.png"
    Image.fromarray(random_uint8((64, 64, 3))).save(path)
    path.write_bytes(path.read_bytes()[:200])

    with pytest.raises(ImageError) as caught:
        read_image(path)

    assert_one_line_naming(caught.value, path, "truncated or damaged")


def test_a_truncated_jpeg_is_reported_as_damaged(tmp_path):
    path = tmp_path / "cut.jpg"
    Image.fromarray(random_uint8((64, 64, 3))).save(path)
    path.write_bytes(path.read_bytes()[:400])

    with pytest.raises(ImageError) as caught:
        read_image(path)

    assert_one_line_naming(caught.value, path, "truncated or damaged")


def test_a_text_file_named_png_is_not_an_image(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("shopping list: milk, eggs\n")

    with pytest.raises(ImageError) as caught:
        read_image(path)

    assert_one_line_naming(caught.value, path, "not an image")


def test_an_empty_file_is_reported_as_empty(tmp_path):
    path = tmp_path / "empty.png"
    path.write_bytes(b"")

    with pytest.raises(ImageError) as caught:
        read_image(path)

    assert_one_line_naming(caught.value, path, "empty")


def test_a_missing_file_is_reported_as_missing(tmp_path):
    path = tmp_path / "nowhere.png"

    with pytest.raises(ImageError) as caught:
        read_image(path)

    assert_one_line_naming(caught.value, path, "no such file")


def test_a_folder_is_reported_as_a_folder(tmp_path):
    path = tmp_path / "photos.png"
    path.mkdir()

    with pytest.raises(ImageError) as caught:
        read_image(path)

    assert_one_line_naming(caught.value, path, "folder")


# ---- animations and multi-page files


def test_an_animated_gif_gives_its_first_frame(tmp_path):
    path = tmp_path / "blink.gif"
    red, blue = Image.new("RGB", (4, 4), (255, 0, 0)), Image.new("RGB", (4, 4), (0, 0, 255))
    red.save(path, save_all=True, append_images=[blue], duration=100, loop=0)

    picture = read_image(path)

    assert picture.rgb[0, 0].tolist() == [255, 0, 0]
    assert picture.format == "GIF"


def test_a_multi_page_tiff_gives_its_first_page(tmp_path):
    path = tmp_path / "pages.tif"
    first, second = Image.new("L", (4, 4), 10), Image.new("L", (6, 6), 200)
    first.save(path, save_all=True, append_images=[second])

    picture = read_image(path)

    assert picture.size == (4, 4)
    assert picture.rgb[0, 0].tolist() == [10, 10, 10]


# ---- writing


@pytest.mark.parametrize("suffix", [".png", ".webp", ".tiff"])
def test_8bit_rgba_round_trips_exactly(tmp_path, suffix):
    path = tmp_path / f"cutout{suffix}"
    rgba = random_uint8((13, 17, 4))
    rgba[0, :5, 3] = 0  # fully transparent pixels keep their colour too

    write_image(path, rgba)
    picture = read_image(path)

    assert np.array_equal(picture.rgb, rgba[..., :3])
    assert np.array_equal(picture.alpha, rgba[..., 3])


@pytest.mark.parametrize("suffix", [".png", ".tiff"])
def test_16bit_grey_mask_round_trips_exactly(tmp_path, suffix):
    path = tmp_path / f"mask{suffix}"
    mask = random_uint16((13, 17))

    write_image(path, mask)
    picture = read_image(path)

    assert picture.bit_depth == 16
    assert np.array_equal(picture.rgb[..., 0], mask)


@pytest.mark.parametrize("suffix", [".png", ".tiff"])
@pytest.mark.parametrize("channels", [3, 4])
def test_16bit_colour_round_trips_exactly(tmp_path, suffix, channels):
    path = tmp_path / f"cutout{suffix}"
    pixels = random_uint16((37, 29, channels))

    write_image(path, pixels)
    picture = read_image(path)

    assert picture.bit_depth == 16
    assert np.array_equal(picture.rgb, pixels[..., :3])
    assert (picture.alpha is None) == (channels == 3)
    if channels == 4:
        assert np.array_equal(picture.alpha, pixels[..., 3])


@pytest.mark.parametrize("suffix", [".png", ".tiff"])
def test_16bit_colour_written_in_many_bands_round_trips_exactly(tmp_path, monkeypatch, suffix):
    path = tmp_path / f"cutout{suffix}"
    pixels = random_uint16((37, 29, 4))
    monkeypatch.setattr(imagewrite, "_PNG_BAND_BYTES", 1000)  # 4 rows per band
    monkeypatch.setattr(imagewrite, "_TIFF_STRIP_BYTES", 1000)  # 4 rows per strip

    write_image(path, pixels)
    picture = read_image(path)

    assert np.array_equal(picture.rgb, pixels[..., :3])
    assert np.array_equal(picture.alpha, pixels[..., 3])


def test_16bit_png_written_here_is_read_exactly_by_pillow_too(tmp_path):
    path = tmp_path / "mask16.png"
    rgba = random_uint16((7, 5, 4))

    write_image(path, rgba)

    with Image.open(path) as image:  # Pillow keeps the high byte of 16-bit colour
        assert np.array_equal(np.asarray(image), (rgba >> 8).astype(np.uint8))


def test_webp_rounds_16bit_to_8bit(tmp_path):
    path = tmp_path / "cutout.webp"
    rgba = np.array([[[128, 129, 385, 32896], [386, 65406, 65535, 65535]]], dtype=np.uint16)

    write_image(path, rgba)
    picture = read_image(path)

    assert picture.bit_depth == 8
    assert picture.rgb.tolist() == [[[0, 1, 1], [2, 254, 255]]]
    assert picture.alpha.tolist() == [[128, 255]]


def test_a_grey_mask_in_webp_comes_back_as_equal_channels(tmp_path):
    path = tmp_path / "mask.webp"
    mask = random_uint8((3, 4))

    write_image(path, mask)

    assert np.array_equal(read_image(path).rgb, np.stack([mask] * 3, axis=-1))


@pytest.mark.parametrize("suffix", [".png", ".webp", ".tiff"])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_write_keeps_exif(tmp_path, suffix, dtype):
    path = tmp_path / f"cutout{suffix}"

    write_image(path, np.zeros((2, 3, 4), dtype=dtype), exif=exif_bytes(1, make="Camera Maker"))

    assert exif_tags(read_image(path).exif)[MAKE] == "Camera Maker"


def test_the_format_argument_overrides_the_suffix(tmp_path):
    path = tmp_path / "cutout.bin"

    write_image(path, np.zeros((2, 2, 4), dtype=np.uint8), format="TIFF")

    assert read_image(path).format == "TIFF"


def test_a_tif_suffix_means_tiff(tmp_path):
    path = tmp_path / "cutout.tif"

    write_image(path, np.zeros((2, 2, 4), dtype=np.uint8))

    assert read_image(path).format == "TIFF"


def test_write_creates_missing_folders(tmp_path):
    path = tmp_path / "a" / "b" / "mask.png"

    write_image(path, np.zeros((2, 2), dtype=np.uint8))

    assert path.is_file()


def test_a_wrong_shape_fails_and_leaves_the_existing_file_alone(tmp_path):
    path = tmp_path / "mask.png"
    path.write_bytes(b"the previous result")

    with pytest.raises(ImageError, match="H x W x 4"):
        write_image(path, np.zeros((2, 2, 2), dtype=np.uint8))

    assert path.read_bytes() == b"the previous result"
    assert os.listdir(tmp_path) == ["mask.png"]


def test_a_failure_while_writing_leaves_the_existing_file_and_no_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "mask.png"
    path.write_bytes(b"the previous result")

    def disk_full(stream, pixels, icc, exif):
        stream.write(b"\x89PNG half a file")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setitem(imagewrite._ENCODERS, "png", disk_full)

    with pytest.raises(ImageError) as caught:
        write_image(path, np.zeros((2, 2), dtype=np.uint8))

    assert_one_line_naming(caught.value, path, "no space left on device")
    assert path.read_bytes() == b"the previous result"
    assert os.listdir(tmp_path) == ["mask.png"]


def test_an_unknown_format_is_refused_with_the_supported_ones(tmp_path):
    path = tmp_path / "mask.png"

    with pytest.raises(ImageError) as caught:
        write_image(path, np.zeros((2, 2), dtype=np.uint8), format="jpeg")

    assert_one_line_naming(caught.value, path, "'jpeg'", "png, webp, tiff")
    assert not path.exists()


def test_an_unknown_suffix_is_refused_with_the_supported_formats(tmp_path):
    path = tmp_path / "mask.jpg"

    with pytest.raises(ImageError) as caught:
        write_image(path, np.zeros((2, 2), dtype=np.uint8))

    assert_one_line_naming(caught.value, path, "'.jpg'", "png, webp, tiff")
    assert SUPPORTED_OUTPUT_FORMATS == ("png", "webp", "tiff")


def test_webp_over_16383_pixels_is_refused_with_an_alternative(tmp_path):
    path = tmp_path / "panorama.webp"

    with pytest.raises(ImageError) as caught:
        write_image(path, np.zeros((1, 16384), dtype=np.uint8))

    assert_one_line_naming(caught.value, path, "16383", "PNG or TIFF")
    assert not path.exists()


# ---- files Pillow cannot write, built byte by byte


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def write_png16_by_hand(path, pixels: np.ndarray, transparent: tuple[int, ...] | None = None) -> None:
    """A 16-bit grey+alpha, RGB or RGBA PNG whose rows cycle through all five filter types."""
    height, width, channels = pixels.shape
    colour_type = {2: 4, 3: 2, 4: 6}[channels]
    step = channels * 2
    rows = pixels.astype(">u2").view(np.uint8).reshape(height, width * step).astype(np.int32)
    body = b""
    for y in range(height):
        kind = y % 5
        row = rows[y]
        up = rows[y - 1] if y else np.zeros_like(row)
        left = np.concatenate([np.zeros(step, np.int32), row[:-step]])
        up_left = np.concatenate([np.zeros(step, np.int32), up[:-step]])
        if kind == 0:
            predicted = np.zeros_like(row)
        elif kind == 1:
            predicted = left
        elif kind == 2:
            predicted = up
        elif kind == 3:
            predicted = (left + up) // 2
        else:
            p = left + up - up_left
            pa, pb, pc = abs(p - left), abs(p - up), abs(p - up_left)
            predicted = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, up, up_left))
        body += bytes([kind]) + ((row - predicted) % 256).astype(np.uint8).tobytes()
    chunks = png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 16, colour_type, 0, 0, 0))
    if transparent is not None:
        chunks += png_chunk(b"tRNS", struct.pack(">3H", *transparent))
    chunks += png_chunk(b"IDAT", zlib.compress(body)) + png_chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunks)


def write_interlaced_png16_by_hand(path, rgba: np.ndarray) -> None:
    """A 16-bit RGBA PNG in Adam7 interlacing: seven sub-images, unfiltered."""
    height, width, _ = rgba.shape
    passes = [
        (0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)
    ]
    body = b""
    for left, top, step_x, step_y in passes:
        for row in rgba[top::step_y, left::step_x]:
            if row.size:
                body += b"\0" + row.astype(">u2").tobytes()
    header = png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 16, 6, 0, 0, 1))
    chunks = header + png_chunk(b"IDAT", zlib.compress(body)) + png_chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunks)


def write_png_header_only(path, width: int, height: int) -> None:
    """A PNG that declares its size and then ends: decoding it could only fail."""
    header = png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + header + png_chunk(b"IDAT", b"not deflate data"))


def write_tiff16_by_hand(path, pixels: np.ndarray, byte_order: str, deflate: bool) -> None:
    """A one-strip 16-bit RGB or RGBA (unassociated alpha) TIFF in either byte order."""
    height, width, channels = pixels.shape
    data = pixels.astype(byte_order + "u2").tobytes()
    if deflate:
        data = zlib.compress(data)
    entries = [
        (256, 4, 1, width), (257, 4, 1, height), (258, 3, channels, None),
        (259, 3, 1, 8 if deflate else 1), (262, 3, 1, 2), (273, 4, 1, None),
        (277, 3, 1, channels), (278, 4, 1, height), (279, 4, 1, len(data)), (284, 3, 1, 1),
    ]
    if channels == 4:
        entries.append((338, 3, 1, 2))
    directory_size = 2 + 12 * len(entries) + 4
    bits_at = 8 + directory_size
    data_at = bits_at + 2 * channels
    out = (b"II" if byte_order == "<" else b"MM") + struct.pack(byte_order + "HI", 42, 8)
    out += struct.pack(byte_order + "H", len(entries))
    for tag, kind, count, value in entries:
        value = {258: bits_at, 273: data_at}.get(tag, value)
        if kind == 3 and count == 1:
            out += struct.pack(byte_order + "HHIHH", tag, kind, count, value, 0)
        else:
            out += struct.pack(byte_order + "HHII", tag, kind, count, value)
    out += struct.pack(byte_order + "I", 0) + struct.pack(byte_order + f"{channels}H", *[16] * channels)
    path.write_bytes(out + data)


def grey_press_cmyk_profile() -> bytes:
    """A tiny CMYK printer profile (ICC v2, one lut8 A2B0) that prints every ink as grey.

    Cyan alone gives L* 50, black gives L* 0: conversion through it is easy to tell apart
    from Pillow's plain formula, which turns cyan into (0, 255, 255).
    """

    def s15(value: float) -> bytes:
        return struct.pack(">i", round(value * 65536))

    clut = bytearray()
    for cyan in (0, 1):
        for _magenta in (0, 1):
            for _yellow in (0, 1):
                for black in (0, 1):
                    clut += bytes([round((1 - black) * (1 - 0.5 * cyan) * 255), 128, 128])
    identity = bytes(range(256))
    matrix = b"".join(s15(v) for v in (1, 0, 0, 0, 1, 0, 0, 0, 1))
    lut = b"mft1" + bytes(4) + bytes([4, 3, 2, 0]) + matrix + identity * 4 + bytes(clut) + identity * 3
    text = b"grey press\0"
    desc = b"desc" + bytes(4) + struct.pack(">I", len(text)) + text + bytes(4 + 4 + 2 + 1 + 67)
    white = b"XYZ " + bytes(4) + s15(0.9642) + s15(1.0) + s15(0.8249)
    tags = [(b"desc", desc), (b"wtpt", white), (b"A2B0", lut)]
    table, body = struct.pack(">I", len(tags)), b""
    start = 128 + 4 + 12 * len(tags)
    for signature, data in tags:
        data += bytes(-len(data) % 4)
        table += signature + struct.pack(">II", start + len(body), len(data))
        body += data
    header = (
        struct.pack(">I", 128 + len(table) + len(body)) + b"lcms" + bytes([2, 0x10, 0, 0])
        + b"prtr" + b"CMYK" + b"Lab " + bytes(12) + b"acsp" + bytes(24) + struct.pack(">I", 0)
        + s15(0.9642) + s15(1.0) + s15(0.8249)
    ).ljust(128, b"\0")
    return header + table + body


# --- in memory (cleancut remove --ray: the driver sends a file's bytes, the actor sends bytes back)

def test_a_file_read_from_its_bytes_is_the_file_read_from_disk_and_named_in_messages(tmp_path):
    photo = tmp_path / "deep.png"  # 16-bit RGB: decoded in two passes, both from the bytes
    deep = (np.arange(48 * 64 * 3, dtype=np.uint32).reshape(48, 64, 3) * 257 + 3).astype(np.uint16)
    imagewrite.write_image(photo, deep)
    from_disk, from_bytes = imageread.read_image(photo), imageread.read_image("elsewhere/deep.png", data=photo.read_bytes())
    np.testing.assert_array_equal(from_bytes.rgb, deep)
    np.testing.assert_array_equal(from_disk.rgb, deep)
    assert (from_bytes.bit_depth, from_bytes.format) == (from_disk.bit_depth, from_disk.format) == (16, "PNG")
    with pytest.raises(ImageError, match=r"^cannot read elsewhere/x\.jpg: not an image"):
        imageread.read_image("elsewhere/x.jpg", data=b"not an image at all")


def test_encoded_bytes_are_the_file_write_image_writes_and_write_bytes_puts_them_in_place(tmp_path):
    rgba = np.dstack([np.arange(48 * 64 * 3, dtype=np.uint8).reshape(48, 64, 3), np.full((48, 64), 200, np.uint8)])
    imagewrite.write_image(tmp_path / "direct.webp", rgba)
    data = imagewrite.encode_image(tmp_path / "any-name.webp", rgba)
    assert data == (tmp_path / "direct.webp").read_bytes()
    imagewrite.write_bytes(tmp_path / "out" / "placed.webp", data)
    assert sorted(os.listdir(tmp_path / "out")) == ["placed.webp"]
    assert (tmp_path / "out" / "placed.webp").read_bytes() == data
