"""Issue 26: videos on the command line, and --bg PICTURE.

Every clip is a real encoded video made in the test (tests/videos.py) and every result is
decoded back with PyAV. The tiny 'red' model (alpha = the red channel) makes the engine's
answer for each frame cheap and exact; 'slow' gives signals time to arrive mid-clip; the real
u2netp and RVM measure flicker and the recurrent state.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from cleancut import backgrounds, batch, cli, clips, licences, pipeline, temporaries, videoio
from cleancut.catalog import load_catalog
from cleancut.cutout import Job, Output
from cleancut.errors import Cancelled
from cleancut.options import Options

from test_cli import cleancut_on_a_terminal
from videos import PHOTO, audio_packets, decoded_input, engine_alphas, make_clip, panned, read_clip

EXACT = ("--refine", "off", "--no-decontaminate")
RED = Options(model="red", refine="off", foreground=False)
CLI = [sys.executable, "-m", "cleancut"]


def run(*argv: str) -> int:
    return cli.main(list(argv))


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.name.endswith(".tmp"))


def alpha_error(decoded: list[np.ndarray], expected: list[np.ndarray]) -> float:
    """The largest mean absolute difference of one frame's alpha, in 8-bit steps."""
    return max(float(np.abs(got[..., 3].astype(int) - want.astype(int)).mean()) for got, want in zip(decoded, expected))


@pytest.fixture
def clip(tmp_path):
    """An 8-frame 96×72 H.264 MP4 with AAC sound, alone in a folder of its own."""
    (tmp_path / "v").mkdir()
    return make_clip(tmp_path / "v" / "clip.mp4")


# --- what a clip becomes ---

def test_a_clip_becomes_a_webm_with_the_engines_alpha_for_every_frame(engine_models, clip):
    assert run("remove", str(clip), "--model", "red", *EXACT, "-q") == 0
    out = read_clip(clip.with_name("clip-cutout.webm"))
    assert (out.codec, out.pix_fmt) == ("vp9", "yuva420p")
    assert alpha_error(out.pixels, engine_alphas(decoded_input(clip), RED)) < 2.0


def test_a_mov_is_prores_4444_with_the_engines_alpha(engine_models, clip, tmp_path):
    assert run("remove", str(clip), "-o", str(tmp_path / "out.mov"), "--model", "red", *EXACT, "-q") == 0
    out = read_clip(tmp_path / "out.mov")
    assert out.codec == "prores" and out.pix_fmt.startswith("yuva444p")
    assert alpha_error(out.pixels, engine_alphas(decoded_input(clip), RED)) < 1.0


def test_frame_count_and_timestamps_are_kept(engine_models, clip, tmp_path):
    assert run("remove", str(clip), "-o", str(tmp_path / "out.mov"), "--model", "red", *EXACT, "-q") == 0
    assert read_clip(tmp_path / "out.mov").times == read_clip(clip).times


@pytest.mark.parametrize("suffix", [".webm", ".mkv"])
def test_matroska_keeps_the_frame_count_and_the_times_between_frames(engine_models, clip, tmp_path, suffix):
    """Matroska stores no negative time: when the audio starts first (AAC's priming, 21 ms), the
    muxer shifts the whole clip, picture and sound together."""
    target = tmp_path / f"out{suffix}"
    assert run("remove", str(clip), "-o", str(target), "--model", "red", *EXACT, "-q") == 0
    got, want = read_clip(target).times, read_clip(clip).times
    assert np.diff(got) == pytest.approx(np.diff(want), abs=0.0011) and len(got) == len(want) == 8


def test_a_variable_frame_rate_is_kept(engine_models, tmp_path):
    irregular = [0, 1, 3, 4, 9, 10, 16, 17]
    source = make_clip(tmp_path / "vfr.mkv", pts=irregular, codec="libvpx-vp9", audio=False)
    assert run("remove", str(source), "-o", str(tmp_path / "out.mov"), "--model", "red", *EXACT, "-q") == 0
    assert read_clip(tmp_path / "out.mov").times == pytest.approx([p / 25 for p in irregular], abs=0.001)


@pytest.mark.parametrize("suffix, extra", [(".mov", ()), (".mp4", ("--bg", "white")), (".mkv", ())])
def test_audio_is_copied_packet_for_packet(engine_models, clip, tmp_path, suffix, extra):
    target = tmp_path / f"out{suffix}"
    assert run("remove", str(clip), "-o", str(target), "--model", "red", *EXACT, *extra, "-q") == 0
    assert audio_packets(target) == audio_packets(clip)


def test_webm_holds_the_audio_as_opus_because_it_cannot_hold_aac(engine_models, clip):
    assert run("remove", str(clip), "--model", "red", *EXACT, "-q") == 0
    codec, packets = audio_packets(clip.with_name("clip-cutout.webm"))
    assert codec == "opus" and len(packets) >= 15  # 0.32 s in 20 ms packets


def test_mask_is_a_grey_mp4_of_the_alpha(engine_models, clip):
    assert run("remove", str(clip), "--mask", "--model", "red", *EXACT, "-q") == 0
    out = read_clip(clip.with_name("clip-mask.mp4"))
    expected = engine_alphas(decoded_input(clip), RED)
    grey = [np.dstack([frame[..., 0], frame[..., 0], frame[..., 0], frame[..., 0]]) for frame in out.pixels]
    assert out.codec == "h264" and len(out.pixels) == 8
    assert alpha_error(grey, expected) < 2.0


def test_bg_colour_composites_every_frame_into_an_mp4(engine_models, clip):
    assert run("remove", str(clip), "--bg", "#00ff00", "--model", "red", *EXACT, "-q") == 0
    out = read_clip(clip.with_name("clip-composite.mp4"))
    frames, alphas = decoded_input(clip), engine_alphas(decoded_input(clip), RED)
    for got, rgb, alpha in zip(out.pixels, frames, alphas):
        a = alpha[..., None] / 255.0
        want = rgb * a + np.array([0, 255, 0]) * (1 - a)
        assert np.abs(got.astype(float) - want).mean() < 5.0  # H.264 halves the colour resolution


@pytest.mark.parametrize("suffix", [".mp4", ".mov", ".webm"])
def test_a_bt709_clip_keeps_its_colour_tags_and_its_colours(engine_models, tmp_path, suffix):
    colour = np.zeros((48, 64, 3), np.uint8)
    colour[...] = (200, 60, 40)  # the frame and the background alike: the composite is this colour
    source = make_clip(tmp_path / "hd.mp4", frames=[colour] * 3, audio=False, bt709=True, options={"qp": "0"})
    target = tmp_path / f"out{suffix}"
    assert run("remove", str(source), "--bg", "#c83c28", "-o", str(target), "--model", "red", *EXACT, "-q") == 0
    with av.open(str(target)) as container:
        context = container.streams.video[0].codec_context
        assert (context.colorspace, context.color_primaries, context.color_trc) == (1, 1, 1)
    for frame in read_clip(target).pixels:
        # two 8-bit limited-range round trips (the clip, the output); a matrix other than the tag: 12
        assert np.abs(frame[20:28, 28:36, :3].astype(int) - (200, 60, 40)).max() <= 5


def test_an_image_sequence_holds_every_frame_exactly_as_the_engine_cut_it(engine_models, clip, tmp_path):
    assert run("remove", str(clip), "-o", str(tmp_path / "frames"), "--format", "png", "--model", "red", *EXACT, "-q") == 0
    folder = tmp_path / "frames" / "clip-cutout"
    assert sorted(os.listdir(folder)) == [f"{n:06d}.png" for n in range(1, 9)]
    expected = engine_alphas(decoded_input(clip), RED)
    for n, want in enumerate(expected, 1):
        assert np.array_equal(np.asarray(Image.open(folder / f"{n:06d}.png"))[..., 3], want)


def test_a_webm_s_own_alpha_limits_the_new_one(engine_models, tmp_path):
    output = av.open(str(tmp_path / "own.webm"), "w")
    stream = output.add_stream("libvpx-vp9", rate=25, options={"lossless": "1"})
    stream.width, stream.height, stream.pix_fmt = 64, 48, "yuva420p"
    for index, rgb in enumerate(panned(3, 64, 48)):
        rgba = np.dstack([rgb, np.full((48, 64), 255, np.uint8)])
        rgba[:, :32, 3] = 0  # the left half was transparent already
        frame = av.VideoFrame.from_ndarray(rgba, format="rgba")
        frame.pts = index
        output.mux(stream.encode(frame))
    output.mux(stream.encode())
    output.close()
    assert run("remove", str(tmp_path / "own.webm"), "--mask", "-o", str(tmp_path / "seq"), "--format", "png",
               "--model", "red", *EXACT, "-q") == 0
    for path in sorted((tmp_path / "seq" / "own-mask").iterdir()):
        mask = np.asarray(Image.open(path))
        assert mask[:, :30].max() == 0 and mask[:, 34:].max() > 100


def test_a_rotated_clip_is_cut_out_upright_and_keeps_its_rotation(engine_models, tmp_path):
    frames = panned(4, 96, 72)
    stored_frames = [np.ascontiguousarray(np.rot90(f, -1)) for f in frames]  # shown upright after 90° ccw
    source = make_clip(tmp_path / "phone.mp4", frames=stored_frames, rotation=90, pix_fmt="yuv444p", options={"qp": "0"})
    sequence = tmp_path / "seq"
    assert run("remove", str(source), "-o", str(sequence), "--format", "png", "--model", "red", *EXACT, "-q") == 0
    first = np.asarray(Image.open(sequence / "phone-cutout" / "000001.png"))
    assert first.shape == (72, 96, 4)  # upright, as a player shows it
    assert run("remove", str(source), "-o", str(tmp_path / "out.mov"), "--model", "red", *EXACT, "-q") == 0
    out = read_clip(tmp_path / "out.mov")
    assert out.rotation == 90 and out.pixels[0].shape == (96, 72, 4)  # stored as the input was
    assert np.abs(np.rot90(out.pixels[0][..., 3]).astype(int) - first[..., 3]).mean() < 1.0


@pytest.mark.parametrize("suffix, extra", [(".mp4", ("--bg", "black")), (".webm", ()), (".mov", ())])
def test_odd_frame_sizes_are_written(engine_models, tmp_path, suffix, extra):
    source = make_clip(tmp_path / "odd.mkv", count=3, width=33, height=25, codec="ffv1", pix_fmt="yuv444p", audio=False)
    target = tmp_path / f"out{suffix}"
    assert run("remove", str(source), "-o", str(target), "--model", "red", *EXACT, *extra, "-q") == 0
    assert [p.shape[:2] for p in read_clip(target).pixels] == [(25, 33)] * 3


def test_a_10_bit_clip_is_read(engine_models, tmp_path):
    source = make_clip(tmp_path / "ten.mov", count=3, codec="prores_ks", pix_fmt="yuv422p10le", audio=False)
    assert run("remove", str(source), "--mask", "--model", "red", *EXACT, "-q") == 0
    assert len(read_clip(tmp_path / "ten-mask.mp4").pixels) == 3


def test_a_folder_of_videos_and_photos_is_one_batch(engine_models, tmp_path):
    folder = tmp_path / "shoot"
    folder.mkdir()
    make_clip(folder / "a.mp4", count=4)
    Image.fromarray(panned(1, 64, 48)[0]).save(folder / "b.png")
    make_clip(folder / "c.webm", count=4, codec="libvpx-vp9", audio=False)
    assert run("remove", str(folder), "-o", str(tmp_path / "out"), "--model", "red", *EXACT, "--workers", "2", "-q") == 0
    assert sorted(os.listdir(tmp_path / "out")) == ["a-cutout.webm", "b-cutout.png", "c-cutout.webm"]
    assert len(read_clip(tmp_path / "out" / "c-cutout.webm").pixels) == 4


def test_an_image_sequence_from_an_earlier_run_is_no_input_of_the_next(engine_models, tmp_path):
    folder = tmp_path / "shoot"
    folder.mkdir()
    make_clip(folder / "a.mp4", count=3)
    assert run("remove", str(folder), "--format", "png", "--model", "red", *EXACT, "-q") == 0
    assert run("remove", str(folder), "--format", "png", "--model", "red", *EXACT, "-q") == 0
    assert sorted(os.listdir(folder)) == ["a-cutout", "a.mp4"]
    assert sorted(os.listdir(folder / "a-cutout")) == ["000001.png", "000002.png", "000003.png"]


# --- --bg PICTURE ---

def stripes(path: Path, width: int = 200, height: int = 100) -> Path:
    """A picture whose red channel is its column: where a crop came from can be read off it."""
    pixels = np.zeros((height, width, 3), np.uint8)
    pixels[..., 0] = np.linspace(0, 255, width).astype(np.uint8)[None, :]
    Image.fromarray(pixels).save(path)
    return path


def test_a_picture_background_is_scaled_to_cover_and_cropped_to_its_centre(tmp_path):
    picture = stripes(tmp_path / "bg.png")  # 2:1, onto a square: the middle half of its columns
    covered = backgrounds.pixels(str(picture), 50, 50, 10**8)
    assert covered.shape == (50, 50, 3)
    assert 55 <= covered[25, 0, 0] <= 70 and 185 <= covered[25, 49, 0] <= 200  # columns 50..150 of 200


def test_bg_picture_goes_behind_a_still(engine_models, tmp_path):
    photo = tmp_path / "photo.png"
    Image.fromarray(np.zeros((50, 50, 3), np.uint8)).save(photo)  # red 0: fully transparent to 'red'
    picture = stripes(tmp_path / "bg.png")
    assert run("remove", str(photo), "--bg", str(picture), "--model", "red", *EXACT, "-q") == 0
    composite = np.asarray(Image.open(tmp_path / "photo-composite.png"))
    assert np.array_equal(composite, backgrounds.pixels(str(picture), 50, 50, 10**8))


def test_bg_picture_goes_behind_every_frame_of_a_video(engine_models, clip, tmp_path):
    picture = stripes(tmp_path / "bg.png")
    assert run("remove", str(clip), "--bg", str(picture), "-o", str(tmp_path / "seq"), "--format", "png",
               "--model", "red", *EXACT, "-q") == 0
    behind = backgrounds.pixels(str(picture), 72, 96, 10**8).astype(float)
    for n, (rgb, alpha) in enumerate(zip(decoded_input(clip), engine_alphas(decoded_input(clip), RED)), 1):
        a = alpha[..., None] / 255.0
        got = np.asarray(Image.open(tmp_path / "seq" / "clip-composite" / f"{n:06d}.png")).astype(float)
        assert np.abs(got - (rgb * a + behind * (1 - a))).max() <= 1.0


def test_bg_that_is_neither_a_colour_nor_a_file_is_a_usage_error(engine_models, clip, capsys):
    assert run("remove", str(clip), "--bg", "nosuchthing.jpg", "--model", "red", "-q") == 2
    assert "--bg 'nosuchthing.jpg' is neither a colour" in capsys.readouterr().err
    assert not clip.with_name("clip-composite.mp4").exists()


def test_bg_picture_that_is_no_picture_is_refused_before_any_work(engine_models, clip, tmp_path, capsys):
    fake = tmp_path / "bg.jpg"
    fake.write_bytes(b"not a picture")
    assert run("remove", str(clip), "--bg", str(fake), "--model", "red", "-q") == 2
    assert f"--bg {fake}: cannot read" in capsys.readouterr().err


def test_bg_picture_that_is_a_fifo_is_refused_without_hanging(engine_models, clip, tmp_path, capsys):
    fifo = tmp_path / "bg.png"
    os.mkfifo(fifo)
    assert run("remove", str(clip), "--bg", str(fifo), "--model", "red", "-q") == 2
    assert "--bg" in capsys.readouterr().err


def test_the_output_is_never_written_over_the_bg_picture(engine_models, tmp_path, capsys):
    photo = tmp_path / "photo.png"
    Image.fromarray(panned(1, 40, 30)[0]).save(photo)
    picture = stripes(tmp_path / "photo-composite.png")
    before = picture.read_bytes()
    assert run("remove", str(photo), "--bg", str(picture), "--model", "red", "-q") == 1
    assert "is an input" in capsys.readouterr().err and picture.read_bytes() == before


# --- what cannot be ---

def test_mp4_cannot_hold_a_cut_out(engine_models, clip, tmp_path, capsys):
    assert run("remove", str(clip), "-o", str(tmp_path / "out.mp4"), "--model", "red", "-q") == 2
    assert ".mp4 video has no transparency" in capsys.readouterr().err
    assert not (tmp_path / "out.mp4").exists()


def test_format_mp4_for_a_cut_out_is_a_usage_error(engine_models, clip, capsys):
    assert run("remove", str(clip), "--format", "mp4", "--model", "red", "-q") == 2
    assert "--format mp4: .mp4 video has no transparency" in capsys.readouterr().err


def test_a_picture_does_not_become_a_video(engine_models, tmp_path, capsys):
    photo = tmp_path / "photo.png"
    Image.fromarray(panned(1, 40, 30)[0]).save(photo)
    assert run("remove", str(photo), "-o", str(tmp_path / "out.webm"), "--model", "red", "-q") == 2
    assert "a picture does not become a video" in capsys.readouterr().err


def test_a_video_does_not_become_one_picture(engine_models, clip, tmp_path, capsys):
    assert run("remove", str(clip), "-o", str(tmp_path / "out.png"), "--model", "red", "-q") == 2
    assert "a video becomes a video" in capsys.readouterr().err


def test_prompts_are_refused_for_videos(engine_models, clip, capsys):
    assert run("remove", str(clip), "--box", "1,1,20,20", "--model", "red", "-q") == 2
    assert f"{clip} is a video" in capsys.readouterr().err


def test_the_output_is_never_written_over_the_input_video(engine_models, clip, capsys):
    before = clip.read_bytes()
    assert run("remove", str(clip), "-o", str(clip), "--mask", "--model", "red", "-q") == 1
    assert "is an input" in capsys.readouterr().err and clip.read_bytes() == before


# --- hostile files ---

@pytest.mark.parametrize("content, said", [
    (b"", "cannot be read as a video"),
    (bytes(range(256)) * 64, "cannot be read as a video"),
], ids=["zero-length", "random-bytes"])
def test_a_file_that_is_no_video_fails_with_a_message_and_writes_nothing(engine_models, tmp_path, capsys, content, said):
    (tmp_path / "v").mkdir()
    bad = tmp_path / "v" / "bad.mp4"
    bad.write_bytes(content)
    assert run("remove", str(bad), "--model", "red", "-q") == 1
    err = capsys.readouterr().err
    assert said in err and "Traceback" not in err
    assert os.listdir(bad.parent) == ["bad.mp4"]


def test_an_mp4_cut_short_fails_and_writes_nothing(engine_models, clip, tmp_path, capsys):
    short = tmp_path / "short.mp4"
    short.write_bytes(clip.read_bytes()[: clip.stat().st_size // 2])
    assert run("remove", str(short), "--model", "red", "-q") == 1
    assert "cannot be read as a video" in capsys.readouterr().err
    assert not (tmp_path / "short-cutout.webm").exists() and leftovers(tmp_path) == []


def test_a_webm_cut_short_is_found_out_and_nothing_is_written(engine_models, tmp_path, capsys):
    whole = make_clip(tmp_path / "whole.webm", count=12, codec="libvpx-vp9", audio=False)
    short = tmp_path / "short.webm"
    short.write_bytes(whole.read_bytes()[: whole.stat().st_size * 6 // 10])
    assert run("remove", str(short), "--model", "red", "-q") == 1
    assert "the file is truncated or damaged, so nothing was written" in capsys.readouterr().err
    assert not (tmp_path / "short-cutout.webm").exists() and leftovers(tmp_path) == []


def test_a_file_with_sound_and_no_picture_is_refused(engine_models, tmp_path, capsys):
    output = av.open(str(tmp_path / "sound.mp4"), "w")
    stream = output.add_stream("aac", rate=48000, layout="mono")
    silence = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
    silence.sample_rate, silence.pts = 48000, 0
    for packet in stream.encode(silence):
        output.mux(packet)
    for packet in stream.encode():
        output.mux(packet)
    output.close()
    assert run("remove", str(tmp_path / "sound.mp4"), "--model", "red", "-q") == 1
    assert "has no video stream (audio)" in capsys.readouterr().err


def test_a_huge_frame_size_is_refused_before_any_frame_is_decoded(engine_models, tmp_path, capsys):
    big = make_clip(tmp_path / "big.mkv", count=1, width=1200, height=1000, codec="ffv1", pix_fmt="yuv444p", audio=False)
    started = time.perf_counter()
    assert run("remove", str(big), "--max-megapixels", "1", "--model", "red", "-q") == 1
    assert "frames of 1200×1000 (1.2 MP) exceed the limit of 1 MP" in capsys.readouterr().err
    assert time.perf_counter() - started < 5


def test_a_fifo_named_like_a_video_is_refused_without_hanging(engine_models, tmp_path, capsys):
    os.mkfifo(tmp_path / "pipe.mp4")
    assert run("remove", str(tmp_path / "pipe.mp4"), "--model", "red", "-q") == 1
    assert "a named pipe (FIFO), not an image or video file" in capsys.readouterr().err


def test_a_link_to_a_clip_is_followed(engine_models, clip, tmp_path):
    (tmp_path / "link.mp4").symlink_to(clip)
    assert run("remove", str(tmp_path / "link.mp4"), "--mask", "--model", "red", *EXACT, "-q") == 0
    assert len(read_clip(tmp_path / "link-mask.mp4").pixels) == 8


def test_a_sequence_folder_holding_other_files_is_left_alone(engine_models, clip, tmp_path, capsys):
    folder = clip.parent / "clip-cutout"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    assert run("remove", str(clip), "--format", "png", "--model", "red", *EXACT, "-q") == 1
    assert "holds other files (notes.txt" in capsys.readouterr().err
    assert os.listdir(folder) == ["notes.txt"] and leftovers(clip.parent) == []


def test_an_earlier_runs_frames_are_replaced(engine_models, tmp_path):
    make_clip(tmp_path / "clip.mp4", count=5)
    assert run("remove", str(tmp_path / "clip.mp4"), "--format", "png", "--model", "red", *EXACT, "-q") == 0
    make_clip(tmp_path / "clip.mp4", count=3)
    assert run("remove", str(tmp_path / "clip.mp4"), "--format", "png", "--model", "red", *EXACT, "-q") == 0
    assert sorted(os.listdir(tmp_path / "clip-cutout")) == ["000001.png", "000002.png", "000003.png"]


# --- stopping part-way ---

def start_cli(*args: str) -> subprocess.Popen:
    return subprocess.Popen(CLI + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(predicate, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.01)
    raise AssertionError(f"still waiting after {timeout} s")


@pytest.mark.parametrize("number, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["ctrl-c", "sigterm"])
@pytest.mark.parametrize("extra", [(), ("--format", "png")], ids=["video", "sequence"])
def test_a_signal_mid_clip_leaves_no_output_and_no_temporary(engine_models, tmp_path, number, code, extra):
    (tmp_path / "v").mkdir()
    source = make_clip(tmp_path / "v" / "clip.mp4", count=30, width=64, height=48)
    run_ = start_cli("remove", str(source), "--model", "slow", *EXACT, *extra, "-q")
    wait_for(lambda: leftovers(source.parent))  # the output has begun
    time.sleep(0.5)
    run_.send_signal(number)
    _, err = run_.communicate(timeout=60)
    assert run_.returncode == code and "Traceback" not in err
    assert os.listdir(source.parent) == ["clip.mp4"]


def test_a_worker_killed_mid_clip_leaves_no_temporary(engine_models, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    make_clip(folder / "a.mp4", count=30, width=64, height=48)
    make_clip(folder / "b.mp4", count=30, width=64, height=48)
    out = tmp_path / "out"
    run_ = start_cli("remove", str(folder), "-o", str(out), "--format", "png", "--model", "slow", *EXACT,
                     "--workers", "2", "-q")
    wait_for(lambda: len(leftovers(out)) == 2)
    workers = [pid for pid in _children(run_.pid) if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
               and b"resource_tracker" not in Path(f"/proc/{pid}/cmdline").read_bytes()]
    os.kill(workers[0], signal.SIGKILL)
    _, err = run_.communicate(timeout=60)
    assert run_.returncode == 1 and err.count("was killed (SIGKILL") == 2
    assert os.listdir(out) == []


def _children(pid: int) -> list[int]:
    return [int(p) for task in Path(f"/proc/{pid}/task").glob("*") for p in (task / "children").read_text().split()]


def test_a_cancelled_clip_raises_cancelled_and_leaves_nothing(engine_models, clip, tmp_path):
    plan = pipeline.prepare(RED)
    cancel = pipeline.CancelToken()
    seen = []

    def progress(done: int, total: int | None) -> None:
        seen.append(done)
        if done == 3:
            cancel.cancel()

    with pytest.raises(Cancelled):
        clips.cut_out_clip(clip, clip.parent / "out.webm", RED, plan, max_pixels=10**8, cancel=cancel, progress=progress)
    assert seen == [1, 2, 3] and sorted(os.listdir(clip.parent)) == ["clip.mp4"]


def test_a_killed_processs_temporary_sequence_folder_is_removed(tmp_path):
    target = tmp_path / "clip-cutout"
    folder = Path(temporaries.folder_beside(target))
    (folder / "000001.png").write_bytes(b"x")
    assert temporaries.remove(target, os.getpid()) == [folder.name]
    assert os.listdir(tmp_path) == []


# --- progress ---

def test_progress_counts_frames_of_the_total(engine_models, clip, tmp_path):
    plan = pipeline.prepare(RED)
    seen = []
    clips.cut_out_clip(clip, tmp_path / "out.webm", RED, plan, max_pixels=10**8,
                       progress=lambda done, total: seen.append((done, total)))
    assert seen == [(n, 8) for n in range(1, 9)]


def test_progress_of_a_matroska_clip_counts_towards_its_length_times_its_rate(engine_models, tmp_path):
    source = make_clip(tmp_path / "c.mkv", count=6, codec="libvpx-vp9", audio=False)  # Matroska counts no frames
    seen = []
    clips.cut_out_clip(source, tmp_path / "out.webm", RED, pipeline.prepare(RED), max_pixels=10**8,
                       progress=lambda done, total: seen.append((done, total)))
    assert seen == [(n, 6) for n in range(1, 7)]


def test_batch_hands_frame_progress_to_a_video_cut_out_here(engine_models, clip, tmp_path):
    seen = []
    jobs = [Job(clip, tmp_path / "out.webm")]
    results = list(batch.run(jobs, RED, Output(), pipeline.prepare(RED), 1, progress=lambda d, t: seen.append(d)))
    assert results == [(jobs[0], None)] and seen == list(range(1, 9))


def test_a_clip_on_a_terminal_shows_frames_done_of_all_and_the_time_left(engine_models, clip):
    code, err = cleancut_on_a_terminal("remove", str(clip), "--model", "red", *EXACT)
    assert code == 0
    assert "8/8 [" in err and "frame/s]" in err and "<00:00" in err  # tqdm: done/total [spent<left, rate]


# --- temporal consistency (real models) ---

def flicker(alphas: list[np.ndarray], step: int) -> float:
    """Mean change of alpha between neighbouring frames once the pan is undone (each frame's
    window is ``step`` pixels right of the last): what a viewer sees as flicker on a still subject."""
    return float(np.mean([np.abs(after[:, :-step].astype(float) - before[:, step:].astype(float)).mean()
                          for before, after in zip(alphas, alphas[1:])]))


def pan_of_the_photo(count: int, step: int) -> list[np.ndarray]:
    """160×160 windows of the photo at 240×240, each ``step`` whole pixels right of the last."""
    small = np.asarray(Image.open(PHOTO).convert("RGB").resize((240, 240), Image.BILINEAR))
    return [np.ascontiguousarray(small[40:200, i * step:i * step + 160]) for i in range(count)]


def test_smoothing_follows_the_motion_and_lowers_flicker_on_a_panned_still(real_cache, tmp_path):
    source = make_clip(tmp_path / "pan.mkv", frames=pan_of_the_photo(12, 2), codec="ffv1", pix_fmt="yuv444p",
                       audio=False)
    measured = {}
    for strength in ("0", "0.8"):
        folder = tmp_path / f"s{strength}"
        assert run("remove", str(source), "--mask", "-o", str(folder), "--format", "png", "--smoothing", strength,
                   "-q") == 0
        measured[strength] = flicker([np.asarray(Image.open(p)) for p in sorted((folder / "pan-mask").iterdir())], 2)
    assert measured["0.8"] < 0.7 * measured["0"]  # measured: 0.47 against 0.80 (u2netp, refine fast)


def test_rvm_carries_its_recurrent_state_through_a_clip(real_cache, tmp_path):
    licences.accept(load_catalog().get("rvm"))
    source = make_clip(tmp_path / "pan.mkv", count=4, width=128, height=96, codec="ffv1", pix_fmt="yuv444p", audio=False)
    rvm = Options(model="rvm", refine="off", foreground=False)
    assert run("remove", str(source), "--mask", "--model", "rvm", "--refine", "off", "-o", str(tmp_path / "seq"),
               "--format", "png", "-q") == 0
    got = [np.asarray(Image.open(p)) for p in sorted((tmp_path / "seq" / "pan-mask").iterdir())]
    carried = engine_alphas(decoded_input(source), rvm)
    afresh = [engine_alphas([rgb], rvm)[0] for rgb in decoded_input(source)]
    assert all(np.array_equal(a, b) for a, b in zip(got, carried))
    assert not all(np.array_equal(a, b) for a, b in zip(got[1:], afresh[1:]))


def test_a_clip_with_a_model_whose_licence_is_not_accepted_is_refused(engine_models, clip, capsys):
    assert run("remove", str(clip), "--model", "gpl", "-q") == 1
    assert "cleancut models accept gpl" in capsys.readouterr().err
    assert sorted(os.listdir(clip.parent)) == ["clip.mp4"]


def test_is_video_goes_by_suffix_in_any_case():
    assert videoio.is_video("a.MP4") and videoio.is_video("b.webm") and not videoio.is_video("c.png")
