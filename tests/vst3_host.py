"""Loads the GDDSP VST3 bundle in a real VST3 host — Spotify's pedalboard, which hosts
plugins through JUCE — and checks what a DAW relies on, with numbers:

* the plugin loads, and every knob of the table is a parameter with its unit and range;
* FX clone with every effect bypassed is transparent and reports no latency;
* a knob set through the host acts: the delay's echo lands at its sample, the
  distortion adds odd harmonics;
* tone clone reports a latency within the live input's budget and sounds under a guitar;
* NaN in the input never reaches the output;
* the state saved by the host restores into a fresh instance.

Run by `tests/tests/vst3_host.rs`: `python3 tests/vst3_host.py BUNDLE.vst3 KNOBS.json`
(the knob table as `gddsp knobs` prints it). Prints one line per check; exits 1 on the
first failure.
"""

import json
import sys

import numpy as np
from pedalboard import load_plugin

SR = 48_000


def check(ok, what):
    print(("ok    " if ok else "FAIL  ") + what, flush=True)
    if not ok:
        sys.exit(1)


def attr(name):
    """The attribute pedalboard gives a parameter: `delay.time_ms` -> `delay_time_ms`."""
    return name.replace(".", "_")


def guitar_like(seconds, f0=196.0):
    """A plucked note: decaying harmonics, stereo."""
    t = np.arange(int(seconds * SR)) / SR
    x = sum((0.3 / k) * np.sin(2 * np.pi * k * f0 * t) for k in range(1, 8)) * np.exp(-1.5 * t)
    return np.stack([x, x]).astype(np.float32)


def level_db(x, hz):
    """Level of the bin nearest `hz` in a Hann-windowed spectrum, dB."""
    w = np.hanning(len(x))
    spec = np.abs(np.fft.rfft(x * w))
    k = int(round(hz * len(x) / SR))
    return 20 * np.log10(spec[k - 2 : k + 3].max() + 1e-12)


def main():
    bundle, knobs_path = sys.argv[1], sys.argv[2]
    table = json.load(open(knobs_path))
    plugin = load_plugin(bundle)
    check(plugin.name == "GDDSP", f"loads as {plugin.name!r}")

    for knob in table:
        param = plugin.parameters.get(attr(knob["name"]))
        check(param is not None, f"{knob['name']} is a parameter")
        lo, hi, _ = param.range
        check(abs(lo - knob["min"]) < 1e-3 and abs(hi - knob["max"]) < 1e-3, f"{knob['name']} spans {lo}..{hi} {(param.units or '').strip()}".rstrip())
        check(abs(getattr(plugin, attr(knob["name"])) - knob["default"]) < 1e-2 * (knob["max"] - knob["min"]), f"{knob['name']} starts at its default")

    # FX clone, every effect bypassed: the input comes back.
    x = guitar_like(1.0)
    y = plugin(x, SR)
    err = float(np.abs(y - x).max())
    check(err < 1e-5, f"bypassed FX clone is transparent (max error {err:.2e})")
    check(plugin.reported_latency_samples == 0, f"FX clone reports {plugin.reported_latency_samples} samples of latency")

    # The delay, set through the host: one echo, 100 ms after an impulse.
    plugin.delay_mix, plugin.delay_feedback, plugin.delay_time_ms = 1.0, 0.0, 100.0
    impulse = np.zeros((2, SR), dtype=np.float32)
    at = SR // 2
    impulse[:, at] = 1.0
    y = plugin(impulse, SR)
    echo = at + 1 + int(np.argmax(np.abs(y[0, at + 1 :])))
    check(abs((echo - at) - SR // 10) <= 1, f"the echo lands {echo - at} samples after the impulse (100 ms = {SR // 10})")
    plugin.delay_mix = 0.0

    # The distortion, set through the host: a clean 220 Hz sine grows a third harmonic.
    t = np.arange(SR) / SR
    sine = np.stack([0.1 * np.sin(2 * np.pi * 220 * t)] * 2).astype(np.float32)
    clean_h3 = level_db(plugin(sine, SR)[0, SR // 2 :], 660) - level_db(sine[0, SR // 2 :], 220)
    plugin.distortion_mix, plugin.distortion_drive_db, plugin.distortion_tone_hz = 1.0, 30.0, 12000.0
    y = plugin(sine, SR)[0, SR // 2 :]
    h3 = level_db(y, 660) - level_db(y, 220)
    check(clean_h3 < -80 and h3 > -30, f"distortion: third harmonic {clean_h3:.0f} dB -> {h3:.1f} dB re the fundamental")
    plugin.distortion_mix = 0.0

    # NaN in, no NaN out.
    bad = guitar_like(0.5)
    bad[:, 1000:1100] = np.nan
    y = plugin(bad, SR)
    check(bool(np.isfinite(y).all()), "NaN in the input never reaches the output")

    # Tone clone from a mono guitar: the model's voice, after a latency within budget —
    # the tracker's 24 ms and a control frame, plus one host block for the decoder
    # thread's round trip. JUCE reads the new latency after the block that changed mode.
    plugin.mode = "Tone clone"
    plugin.input = "Guitar (mono)"
    block = 256
    plugin.process(guitar_like(0.1), SR, buffer_size=block)
    y = plugin.process(guitar_like(1.5), SR, buffer_size=block)
    latency = plugin.reported_latency_samples
    check(0 < latency <= 0.030 * SR + block, f"tone clone reports {latency} samples ({1000 * latency / SR:.1f} ms at blocks of {block}) of latency")
    rms = float(np.sqrt(np.mean(y[:, SR // 2 :] ** 2)))
    check(bool(np.isfinite(y).all()) and rms > 1e-3, f"tone clone sounds under a guitar (RMS {rms:.4f})")

    # State: what the host saves restores into a fresh instance.
    # While the plugin processes, a VST3 host's parameter changes reach it with the next
    # block (as in a playing DAW), so one block runs before the host saves.
    plugin.distortion_drive_db, plugin.delay_time_ms, plugin.reverb_mix = 12.5, 250.0, 0.4
    plugin.process(guitar_like(0.05), SR, buffer_size=block)
    state = plugin.raw_state
    fresh = load_plugin(bundle)
    fresh.raw_state = state
    restored = (fresh.mode, round(fresh.distortion_drive_db, 1), round(fresh.delay_time_ms), round(fresh.reverb_mix, 2))
    check(restored == ("Tone clone", 12.5, 250, 0.4), f"state restores into a fresh instance: {restored}")


if __name__ == "__main__":
    main()
