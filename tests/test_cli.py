"""`cleancut remove` and `cleancut models`, run in-process on real files with the red-channel model.

The red-channel model's alpha is the red channel / 255, and at 16×16 there is no resizing, so
every expected mask below is exact.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cleancut import cli, fetch
from cleancut.catalog import load_catalog

from support import catalog_entry, gradient_image


@pytest.fixture
def red(user_catalog, red_model, server, monkeypatch):
    url = server.add("/red.onnx", "ok", red_model)
    text = catalog_entry("red", red_model, f'{{ kind = "url", url = "{url}" }}')
    user_catalog(text + '\n')
    return "red"


# The red-channel model's alpha, untouched: no edge refinement, the photo's own colours.
EXACT = ("--refine", "off", "--no-decontaminate")


def run(*argv: str) -> int:
    return cli.main(list(argv))


def save(path, pixels, mode=None, **params):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels, mode).save(path, **params) if mode else Image.fromarray(pixels).save(path, **params)
    return path


def test_remove_writes_an_rgba_cutout_beside_the_input(tmp_path, red):
    rgb = gradient_image()
    source = save(tmp_path / "photo.png", rgb)
    assert run("remove", str(source), "--model", red, *EXACT, "-q") == 0
    out = np.asarray(Image.open(tmp_path / "photo-cutout.png"))
    assert out.shape == (16, 16, 4)
    np.testing.assert_array_equal(out[..., :3], rgb)
    np.testing.assert_array_equal(out[..., 3], rgb[..., 0])


def test_output_file_name_is_taken_from_dash_o(tmp_path, red):
    source = save(tmp_path / "photo.png", gradient_image())
    assert run("remove", str(source), "--model", red, *EXACT, "-o", str(tmp_path / "sub" / "result.png"), "-q") == 0
    assert Image.open(tmp_path / "sub" / "result.png").mode == "RGBA"


def test_mask_is_the_alpha_as_8_bit_grey(tmp_path, red):
    rgb = gradient_image()
    source = save(tmp_path / "photo.png", rgb)
    assert run("remove", str(source), "--model", red, *EXACT, "--mask", "-q") == 0
    mask = Image.open(tmp_path / "photo-mask.png")
    assert mask.mode == "L"
    np.testing.assert_array_equal(np.asarray(mask), rgb[..., 0])


def test_mask_of_a_16_bit_input_is_16_bit(tmp_path, red):
    grey16 = (np.arange(256, dtype=np.uint16).reshape(16, 16) * 257)
    source = save(tmp_path / "deep.png", grey16)
    assert run("remove", str(source), "--model", red, *EXACT, "--mask", "-q") == 0
    mask = Image.open(tmp_path / "deep-mask.png")
    assert mask.mode in ("I;16", "I")
    np.testing.assert_array_equal(np.asarray(mask).astype(np.uint16), grey16)


def test_bg_composites_over_a_flat_colour(tmp_path, red):
    rgb = gradient_image()
    source = save(tmp_path / "photo.png", rgb)
    assert run("remove", str(source), "--model", red, *EXACT, "--bg", "#00ff00", "-q") == 0
    out = np.asarray(Image.open(tmp_path / "photo-composite.png")).astype(float)
    a = rgb[..., 0:1] / 255.0
    expected = np.rint(rgb * a + np.array([0, 255, 0]) * (1 - a))
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("fmt, suffix", [("webp", ".webp"), ("tiff", ".tiff")])
def test_other_formats_keep_the_alpha(tmp_path, red, fmt, suffix):
    rgb = gradient_image()
    source = save(tmp_path / "photo.png", rgb)
    assert run("remove", str(source), "--model", red, *EXACT, "--format", fmt, "-q") == 0
    out = np.asarray(Image.open(tmp_path / f"photo-cutout{suffix}"))
    np.testing.assert_array_equal(out[..., 3], rgb[..., 0])


def test_folder_input_is_recursive_and_keeps_relative_paths(tmp_path, red):
    save(tmp_path / "in" / "a.png", gradient_image())
    save(tmp_path / "in" / "deep" / "b.jpg", gradient_image(), quality=95)
    assert run("remove", str(tmp_path / "in"), "--model", red, *EXACT, "-o", str(tmp_path / "out"), "-q") == 0
    written = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.png"))
    assert written == ["a-cutout.png", "deep/b-cutout.png"]


def test_glob_pattern_is_expanded_by_cleancut(tmp_path, red):
    save(tmp_path / "in" / "x" / "a.png", gradient_image())
    save(tmp_path / "in" / "y" / "b.png", gradient_image())
    save(tmp_path / "in" / "y" / "c.txt.png", gradient_image())
    pattern = str(tmp_path / "in" / "**" / "[ab].png")
    assert run("remove", pattern, "--model", red, *EXACT, "-o", str(tmp_path / "out"), "-q") == 0
    written = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.png"))
    assert written == ["x/a-cutout.png", "y/b-cutout.png"]


def test_skip_existing_leaves_existing_outputs_alone(tmp_path, red):
    source = save(tmp_path / "photo.png", gradient_image())
    (tmp_path / "photo-cutout.png").write_bytes(b"keep me")
    assert run("remove", str(source), "--model", red, *EXACT, "--skip-existing", "-q") == 0
    assert (tmp_path / "photo-cutout.png").read_bytes() == b"keep me"


def test_a_bad_file_is_reported_at_the_end_and_the_others_complete(tmp_path, red, capsys):
    save(tmp_path / "in" / "a.png", gradient_image())
    (tmp_path / "in" / "b.png").write_bytes(b"not an image at all")
    save(tmp_path / "in" / "c.png", gradient_image())
    assert run("remove", str(tmp_path / "in"), "--model", red, *EXACT, "-o", str(tmp_path / "out"), "-q") == 1
    assert (tmp_path / "out" / "a-cutout.png").exists() and (tmp_path / "out" / "c-cutout.png").exists()
    err = capsys.readouterr().err
    failed = [line for line in err.splitlines() if line.startswith("cleancut: failed:")]
    assert len(failed) == 1 and "b.png" in failed[0]
    assert "Traceback" not in err


def test_a_batch_lists_its_failures_in_input_order_whichever_stage_failed(tmp_path, red, capsys):
    # decode failures (b, e) and a write failure (d: its output path is a folder) among good files
    for name in "acdfgh":
        save(tmp_path / "in" / f"{name}.png", np.roll(gradient_image(), ord(name), axis=1))
    for name in "be":
        (tmp_path / "in" / f"{name}.png").write_bytes(b"not an image at all")
    (tmp_path / "out" / "d-cutout.png").mkdir(parents=True)
    assert run("remove", str(tmp_path / "in"), "--model", red, *EXACT, "-o", str(tmp_path / "out"), "-q") == 1
    failed = [line.split(": ")[2] for line in capsys.readouterr().err.splitlines()
              if line.startswith("cleancut: failed:")]
    assert [Path(name).name for name in failed] == ["b.png", "d.png", "e.png"]


def test_every_file_of_a_batch_gets_its_own_exact_cutout(tmp_path, red):
    sources = {name: np.roll(gradient_image(), 3 * i, axis=1) for i, name in enumerate("abcdefg")}
    for name, rgb in sources.items():
        save(tmp_path / "in" / f"{name}.png", rgb)
    assert run("remove", str(tmp_path / "in"), "--model", red, *EXACT, "-o", str(tmp_path / "out"), "-q") == 0
    for name, rgb in sources.items():
        out = np.asarray(Image.open(tmp_path / "out" / f"{name}-cutout.png"))
        np.testing.assert_array_equal(out[..., :3], rgb)
        np.testing.assert_array_equal(out[..., 3], rgb[..., 0])


def test_a_missing_input_is_a_one_line_error(tmp_path, red, capsys):
    assert run("remove", str(tmp_path / "nope.png"), "--model", red, *EXACT, "-q") == 1
    assert capsys.readouterr().err.strip() == f"cleancut: {tmp_path / 'nope.png'}: no such file or folder"


def test_icc_profile_and_exif_are_kept(tmp_path, red):
    from PIL import ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x010F] = "TestCam"  # Make
    source = save(tmp_path / "photo.png", gradient_image(), icc_profile=icc, exif=exif.tobytes())
    assert run("remove", str(source), "--model", red, *EXACT, "-q") == 0
    out = Image.open(tmp_path / "photo-cutout.png")
    assert out.info.get("icc_profile") == icc
    assert out.getexif().get(0x010F) == "TestCam"


def test_existing_transparency_stays_transparent(tmp_path, red):
    rgba = np.dstack([np.full((16, 16, 3), 255, np.uint8), np.zeros((16, 16), np.uint8)])
    rgba[:8, :, 3] = 255
    source = save(tmp_path / "cut.png", rgba)
    assert run("remove", str(source), "--model", red, *EXACT, "--mask", "-q") == 0
    mask = np.asarray(Image.open(tmp_path / "cut-mask.png"))
    assert (mask[:8] == 255).all() and (mask[8:] == 0).all()


def test_a_model_needing_acceptance_stops_before_any_work(tmp_path, capsys):
    source = save(tmp_path / "photo.png", gradient_image())
    assert run("remove", str(source), "--model", "rvm", "-q") == 1
    assert "`cleancut models accept rvm`" in capsys.readouterr().err
    assert not (tmp_path / "photo-cutout.png").exists()


def test_offline_without_the_model_names_the_fetch_command(tmp_path, red, capsys):
    source = save(tmp_path / "photo.png", gradient_image())
    assert run("remove", str(source), "--model", red, *EXACT, "--offline", "-q") == 1
    assert "run `cleancut models fetch red` while online" in capsys.readouterr().err


def test_a_bad_colour_is_a_usage_error(tmp_path, red, capsys):
    source = save(tmp_path / "photo.png", gradient_image())
    assert run("remove", str(source), "--model", red, *EXACT, "--bg", "notacolour", "-q") == 2
    assert "--bg 'notacolour' is neither a colour" in capsys.readouterr().err


def test_models_list_shows_class_cache_state_and_acceptance(capsys):
    assert run("models", "list") == 0
    table = capsys.readouterr().out.split("\n\n")[0]
    lines = {line.split()[0]: line for line in table.splitlines()[1:]}
    assert set(lines) == {"u2netp", "u2net", "isnet", "isnet-q8", "rvm", "modnet"}
    assert "permissive" in lines["u2netp"] and "default" in lines["u2netp"]
    assert "copyleft" in lines["rvm"] and "needs acceptance" in lines["rvm"]


def test_models_list_shows_the_presets_with_their_models(capsys):
    assert run("models", "list") == 0
    presets = capsys.readouterr().out.split("presets (use them like a model id):\n")[1]
    assert presets.startswith("  quality: isnet + u2netp, isnet also mirrored, refine best")


def test_accepting_a_preset_accepts_the_models_that_need_it(capsys):
    from cleancut import licences
    from cleancut.catalog import load_catalog

    assert run("models", "accept", "quality") == 0
    catalog = load_catalog()
    assert licences.is_accepted(catalog.get("isnet"))
    assert not licences.is_accepted(catalog.get("u2netp"))  # permissive: nothing to accept
    assert "accepted for model 'isnet'" in capsys.readouterr().out


def test_models_accept_is_shown_by_list(capsys):
    assert run("models", "accept", "rvm") == 0
    capsys.readouterr()
    run("models", "list")
    rvm = [line for line in capsys.readouterr().out.splitlines() if line.startswith("rvm")][0]
    assert "accepted" in rvm and "needs acceptance" not in rvm


def test_models_info_prints_the_card(capsys):
    assert run("models", "info", "rvm") == 0
    out = capsys.readouterr().out
    assert out.startswith("# ") and "GPL-3.0" in out and "not fetched" in out


def test_models_fetch_then_verify(red, capsys):
    assert run("models", "fetch", red, "-q") == 0
    assert run("models", "verify", red) == 0
    assert "red: ok" in capsys.readouterr().out


def test_models_verify_reports_a_tampered_file(red, capsys):
    run("models", "fetch", red, "-q")
    path = fetch.cached_path(load_catalog().get(red))
    path.write_bytes(path.read_bytes() + b"x")
    fetch.forget_verified()
    assert run("models", "verify", red) == 1
    assert "failed its check" in capsys.readouterr().err


def test_default_cutout_carries_the_engines_decontaminated_colours(tmp_path, red):
    from cleancut import pipeline
    from cleancut.options import Options

    rgb = gradient_image()
    source = save(tmp_path / "photo.png", rgb)
    assert run("remove", str(source), "--model", red, "--refine", "off", "-q") == 0
    out = np.asarray(Image.open(tmp_path / "photo-cutout.png"))
    expected = pipeline.remove(rgb, Options(model=red, refine="off")).foreground
    np.testing.assert_array_equal(out[..., :3], expected)
    assert (out[..., :3] != rgb).any()  # the soft band's colours were estimated, not copied


@pytest.mark.parametrize("mode", ["fast", "best"])
def test_refined_masks_are_written_for_every_mode(tmp_path, red, mode):
    source = save(tmp_path / "photo.png", gradient_image())
    assert run("remove", str(source), "--model", red, "--refine", mode, "--mask", "-q") == 0
    assert Image.open(tmp_path / "photo-mask.png").size == (16, 16)


# --- a first download: its bar, and Ctrl-C in the middle of it --------------------------------

@pytest.fixture
def slow_download(user_catalog, server):
    """Model 'dl' (about 2 MB, not cached) served at 512 KiB/s: a download of about 4 s."""
    from support import padded_red_model

    data = padded_red_model(2_000_000)
    server.throttle(512 << 10)
    user_catalog(catalog_entry("dl", data, f'{{ kind = "url", url = "{server.add("/dl.onnx", "throttled", data)}" }}'))
    return data


def cleancut_on_a_terminal(*argv: str, interrupt_after: float | None = None) -> tuple[int, str]:
    """`cleancut ARGV` in a child process whose stderr is a terminal (so progress bars draw),
    optionally sent Ctrl-C's SIGINT ``interrupt_after`` s after its first bar; (exit code, stderr)."""
    import fcntl
    import os
    import pty
    import signal
    import struct
    import subprocess
    import sys
    import termios
    import time

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # 100 columns, as a window has
    # SIGINT's default action in the child, as on a terminal (a test run started in the
    # background of a script inherits SIGINT ignored).
    child = subprocess.Popen([sys.executable, "-m", "cleancut", *argv], stdout=subprocess.DEVNULL,
                             stderr=follower, stdin=subprocess.DEVNULL,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    os.close(follower)
    text, sent = b"", False
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        text += chunk
        if interrupt_after is not None and not sent and b"dl: " in text:
            time.sleep(interrupt_after)
            child.send_signal(signal.SIGINT)
            sent = True
    os.close(leader)
    return child.wait(timeout=30), text.decode("utf-8", "replace")


def test_models_fetch_draws_one_bar_for_the_model_that_counts_up_to_its_size(slow_download):
    import re

    code, err = cleancut_on_a_terminal("models", "fetch", "dl")
    assert code == 0
    assert f"cleancut: downloading model 'dl' (Test model dl, {len(slow_download) / 1e6:.1f} MB, licence MIT)" in err
    percents = [int(p) for p in re.findall(r"dl:\s+(\d+)%", err)]
    assert len(set(percents)) >= 4 and percents == sorted(percents) and percents[-1] == 100


def test_ctrl_c_during_a_download_keeps_nothing_and_the_next_fetch_starts_afresh(slow_download):
    code, err = cleancut_on_a_terminal("models", "fetch", "dl", interrupt_after=0.5)
    folder = fetch.cached_path(load_catalog().get("dl")).parent
    assert (code, err.strip().splitlines()[-1]) == (130, "cleancut: interrupted")
    assert sorted(p.name for p in folder.iterdir()) == []
    code, _ = cleancut_on_a_terminal("models", "fetch", "dl", "-q")
    assert code == 0 and fetch.cached_path(load_catalog().get("dl")).read_bytes() == slow_download
