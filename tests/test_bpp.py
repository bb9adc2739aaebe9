import pytest

from vcm.bpp import bits_per_pixel, measure_bits_per_pixel
from vcm.errors import VcmError


def test_bits_per_pixel_from_known_byte_count():
    # 1234 bytes = 9872 bits over 64 x 48 x 10 = 30720 pixels.
    assert bits_per_pixel(1234, 64, 48, 10) == pytest.approx(9872 / 30720)
    assert bits_per_pixel(1234, 64, 48, 10) == pytest.approx(0.3213541666666667, abs=1e-15)


def test_zero_bytes_is_zero_bpp():
    assert bits_per_pixel(0, 640, 360, 60) == 0.0


@pytest.mark.parametrize("geometry", [(0, 48, 10), (64, 0, 10), (64, 48, 0)])
def test_empty_geometry_is_rejected(geometry):
    with pytest.raises(ValueError):
        bits_per_pixel(100, *geometry)


def test_measure_sums_bitstream_and_detections(tmp_path):
    bitstream = tmp_path / "foreground.266"
    detections = tmp_path / "detections.zip"
    bitstream.write_bytes(b"\x00" * 1000)
    detections.write_bytes(b"\x01" * 234)
    result = measure_bits_per_pixel([bitstream, detections], width=64, height=48, frames=10)
    assert result.bytes == 1234
    assert result.bits == 9872
    assert result.files == {str(bitstream): 1000, str(detections): 234}
    assert result.bpp == pytest.approx(9872 / 30720)


def test_missing_file_names_it(tmp_path):
    with pytest.raises(VcmError, match="nothing.266: file does not exist"):
        measure_bits_per_pixel([tmp_path / "nothing.266"], width=64, height=48, frames=10)
