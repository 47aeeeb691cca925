"""`cleancut bench --speed`: its photos, its measurements of whole commands, its table."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from PIL import Image

from cleancut.benchmarks import speed
from cleancut.benchmarks.speed import Run
from cleancut.errors import CleancutError

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "astronaut.png"


def test_the_photos_are_a_batch_of_1280x720_jpegs_and_one_4000x3000_jpeg(tmp_path):
    batch, large = speed.make_photos(EXAMPLE, tmp_path, 3)
    names = sorted(path.name for path in batch.iterdir())
    assert names == ["photo-00.jpg", "photo-01.jpg", "photo-02.jpg"]
    assert {Image.open(batch / name).size for name in names} == {(1280, 720)}
    assert Image.open(large).size == (4000, 3000)


def test_the_photos_differ_from_each_other_and_are_the_same_on_every_run(tmp_path):
    first, _ = speed.make_photos(EXAMPLE, tmp_path / "a", 3)
    second, _ = speed.make_photos(EXAMPLE, tmp_path / "b", 3)
    contents = [(first / name).read_bytes() for name in ("photo-00.jpg", "photo-01.jpg", "photo-02.jpg")]
    assert len(set(contents)) == 3
    assert contents == [(second / name).read_bytes() for name in ("photo-00.jpg", "photo-01.jpg", "photo-02.jpg")]


def _eval_sets(root: Path) -> Path:
    """Three tiny evaluation sets laid out as shared/eval's (image/ and alpha/ pairs)."""
    shapes = {"alphamatting": [(80, 50), (64, 80)], "grabcut": [(48, 32), (32, 48), (48, 32)], "ecssd": [(40, 27)]}
    for name, sizes in shapes.items():
        for index, size in enumerate(sizes):
            stem = "GT08" if (name, index) == ("alphamatting", 1) else f"{name}{index}"
            for folder in ("image", "alpha"):
                (root / name / folder).mkdir(parents=True, exist_ok=True)
            Image.new("RGB", size, (index * 40, 90, 200)).save(root / name / "image" / f"{stem}.png")
            Image.new("L", size, 255).save(root / name / "alpha" / f"{stem}.png")
    return root


def test_varied_photos_are_taken_in_turn_from_every_set_and_keep_their_orientation(tmp_path):
    batch, _ = speed.make_eval_photos(_eval_sets(tmp_path / "eval"), tmp_path / "photos", 6)
    names = sorted(path.name for path in batch.iterdir())
    assert [name.split("-")[2] for name in names] == ["alphamatting", "grabcut", "ecssd"] * 2
    sizes = {name.split("-", 3)[3]: Image.open(batch / name).size for name in names}
    assert sizes["GT08.jpg"] == (720, 1280) and sizes["grabcut0.jpg"] == (1280, 720)
    assert sizes["grabcut1.jpg"] == (720, 1280)


def test_the_varied_12_mp_photo_is_the_doll_with_long_hair(tmp_path):
    _, large = speed.make_eval_photos(_eval_sets(tmp_path / "eval"), tmp_path / "photos", 3)
    assert large.name == "large-alphamatting-GT08.jpg"
    assert Image.open(large).size == (3000, 4000)


def test_without_evaluation_photos_it_says_so(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(CleancutError, match="no evaluation photos"):
        speed.make_eval_photos(tmp_path / "empty", tmp_path / "photos", 3)


def test_peak_memory_counts_the_children_a_command_starts():
    child = "b = bytearray(300 << 20); import time; time.sleep(1.0)"
    parent = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {child!r}], check=True)"
    run = speed.timed([sys.executable, "-c", parent], env={})
    assert run.peak_rss_mib >= 300
    assert run.wall_s >= 1.0


def test_a_failing_command_is_an_error_with_its_message():
    with pytest.raises(RuntimeError, match="(?s)exit 3.*went wrong"):
        speed.timed([sys.executable, "-c", "import sys; sys.stderr.write('went wrong'); sys.exit(3)"], env={})


def test_medians_and_ratios_are_against_rembg_in_the_same_run():
    runs = {"batch": {"rembg": [Run(10.0, 700), Run(12.0, 740), Run(11.0, 720)],
                      "default": [Run(8.0, 800), Run(9.0, 900), Run(30.0, 850)]}}
    table = speed.summarise(runs)
    assert table["batch"]["rembg"]["wall_ratio"] == 1.0
    assert table["batch"]["default"]["wall_s"] == 9.0
    assert table["batch"]["default"]["wall_ratio"] == pytest.approx(9.0 / 11.0)
    assert table["batch"]["default"]["rss_ratio"] == pytest.approx(850 / 720)
    assert table["batch"]["default"]["spread_s"] == 22.0


def test_without_rembg_it_says_where_to_install_it(tmp_path, capsys):
    python = tmp_path / "bin" / "python"
    python.parent.mkdir()
    python.symlink_to(sys.executable)
    assert speed.main(["--rembg-python", str(python)]) == 2
    assert "pip install 'rembg[cpu,cli]'" in capsys.readouterr().err
