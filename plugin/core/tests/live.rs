//! Live input: the hex tracker, the polyphonic mono tracker, string assignment and MIDI
//! voices, on synthetic plucks whose pitches are known.

mod common;

use gddsp_core::analysis::loudness::FLOOR_DB;
use gddsp_core::live::hex::HexTracker;
use gddsp_core::live::midi::{MidiEvent, MidiMapping, MidiVoices};
use gddsp_core::live::poly::PolyTracker;
use gddsp_core::live::strings::StringAssigner;
use gddsp_core::live::{hz_to_midi, midi_to_hz, STRINGS};
use gddsp_core::ModelSpec;

/// A plucked string: 12 harmonics at 1/k, a slightly stretched series (real strings are
/// stiff), a 1.5 s decay.
fn pluck(rate: f32, hz: f32, amp: f32, len: usize) -> Vec<f32> {
    (0..len)
        .map(|n| {
            let t = n as f32 / rate;
            let env = amp * (-t / 1.5).exp();
            (1..=12)
                .map(|k| {
                    let fk = hz * k as f32 * (1.0 + 1e-4 * (k * k) as f32);
                    if fk < rate / 2.0 {
                        (std::f32::consts::TAU * fk * t).sin() / k as f32
                    } else {
                        0.0
                    }
                })
                .sum::<f32>()
                * env
        })
        .collect()
}

fn cents(a: f32, b: f32) -> f32 {
    1200.0 * (a / b).log2()
}

fn rate_and_hop() -> (f32, usize) {
    let spec = ModelSpec::default();
    (spec.sample_rate as f32, spec.hop)
}

#[test]
fn hex_tracks_each_string_within_20_cents_and_gates_a_silent_string() {
    let (sr, hop) = rate_and_hop();
    let len = sr as usize;
    // An open A-shape barre on strings 0..4 at slightly sharp and flat pitches; string 5 silent.
    let truth = [midi_to_hz(45.0) * 1.003, midi_to_hz(52.0), midi_to_hz(57.0) * 0.995, midi_to_hz(61.0), midi_to_hz(64.0) * 1.004];
    let mut strings: Vec<Vec<f32>> = truth.iter().map(|&f| pluck(sr, f, 0.2, len)).collect();
    strings.push(vec![0.0; len]);
    let frames = HexTracker::new(sr, hop).track(&strings, hop);
    assert_eq!(frames.len(), len / hop);
    // After the first 64 ms every sounding string is voiced and in tune.
    for f in &frames[4..] {
        for (s, &hz) in truth.iter().enumerate() {
            assert!(f.confidence[s] > 0.5, "string {s} unvoiced: {f:?}");
            let c = cents(f.f0_hz[s], hz);
            assert!(c.abs() < 20.0, "string {s}: {} Hz is {c:.1} cents off {hz}", f.f0_hz[s]);
        }
        assert_eq!(f.confidence[5], 0.0, "the silent string is gated");
        assert!(f.loudness_db[5] <= FLOOR_DB + 1e-3);
        assert!(f.loudness_db[0] > -40.0, "a sounding string's loudness: {}", f.loudness_db[0]);
    }
}

#[test]
fn hex_reports_a_new_note_within_its_look_ahead() {
    let (sr, hop) = rate_and_hop();
    let len = sr as usize / 2;
    let onset = 3000;
    let mut string: Vec<f32> = vec![0.0; onset];
    string.extend(pluck(sr, 196.0, 0.3, len - onset));
    let mut strings = vec![vec![0.0; len]; STRINGS];
    strings[3] = string;
    let frames = HexTracker::new(sr, hop).track(&strings, hop);
    let first = frames.iter().position(|f| f.confidence[3] > 0.0).expect("the note is found");
    // Frame i ends at sample (i + 1)·hop; YIN needs its window of the new note.
    let reported_at = (first + 1) * hop;
    let delay_ms = (reported_at - onset) as f32 / sr * 1000.0;
    assert!(delay_ms <= 40.0, "the note shows {delay_ms:.1} ms after its onset");
    assert!(cents(frames[first + 2].f0_hz[3], 196.0).abs() < 20.0);
}

/// Samples from `onset` to the end of the first frame that reports a note, over plucks
/// at two levels and eight onsets across a hop; (median, largest).
fn onset_delays(midis: &[f32], mut first_report: impl FnMut(&[f32]) -> Option<usize>) -> (usize, usize) {
    let (sr, hop) = rate_and_hop();
    let len = sr as usize / 2;
    let mut delays = Vec::new();
    for &m in midis {
        for amp in [0.05, 0.3] {
            for onset in (3000..3000 + hop).step_by(hop / 8) {
                let mut x = vec![0.0; onset];
                x.extend(pluck(sr, midi_to_hz(m), amp, len - onset));
                let first = first_report(&x).unwrap_or_else(|| panic!("MIDI {m} at {amp} is never reported"));
                delays.push((first + 1) * hop - onset);
            }
        }
    }
    delays.sort();
    (delays[delays.len() / 2], delays[delays.len() - 1])
}

#[test]
fn hex_and_poly_report_a_note_about_their_onset_delay_after_it_starts() {
    // Tone clone times the trackers' frames by `onset_delay_samples()`: a note reported
    // a median more than a hop away from it would come out early or late by that much.
    let (sr, hop) = rate_and_hop();
    let mut hex = HexTracker::new(sr, hop);
    let hex_delay = hex.onset_delay_samples();
    // G3–E5: notes the G string (index 3) plays.
    let (median, worst) = onset_delays(&[55.0, 59.0, 64.0, 69.0, 76.0], |x| {
        let mut strings = vec![vec![0.0; x.len()]; STRINGS];
        strings[3] = x.to_vec();
        hex.reset();
        hex.track(&strings, hop).iter().position(|f| f.confidence[3] > 0.0)
    });
    eprintln!("hex: onset to report, median {median}, largest {worst}; onset_delay_samples {hex_delay}");
    assert!(median.abs_diff(hex_delay) <= hop, "hex median {median} vs {hex_delay}");
    assert!(worst <= hex_delay + 2 * hop, "hex: a note reported {worst} samples after its onset");
    let mut poly = PolyTracker::new(sr, hop);
    let poly_delay = poly.onset_delay_samples();
    let (median, worst) = onset_delays(&[40.0, 45.0, 50.0, 55.0, 59.0, 64.0, 69.0, 76.0], |x| {
        poly = PolyTracker::new(sr, hop);
        poly.track(x, hop).iter().position(|f| f.strings.confidence.iter().any(|c| *c > 0.0))
    });
    eprintln!("poly: onset to report, median {median}, largest {worst}; onset_delay_samples {poly_delay}");
    assert!(median.abs_diff(poly_delay) <= hop, "poly median {median} vs {poly_delay}");
    assert!(worst <= poly_delay + 3 * hop, "poly: a note reported {worst} samples after its onset");
    assert!(hex_delay < hex.latency_samples() && poly_delay < poly.latency_samples());
}

/// Notes found in a frame, as rounded MIDI numbers.
fn midi_set(frame: &gddsp_core::live::poly::PolyFrame) -> Vec<u8> {
    let mut m: Vec<u8> = frame.notes().map(|n| n.midi).collect();
    m.sort();
    m
}

#[test]
fn poly_finds_a_single_note_and_its_pitch() {
    let (sr, hop) = rate_and_hop();
    let x = pluck(sr, midi_to_hz(50.0) * 1.004, 0.3, sr as usize);
    let frames = PolyTracker::new(sr, hop).track(&x, hop);
    let steady = &frames[10..frames.len() - 10];
    let right = steady.iter().filter(|f| midi_set(f) == [50]).count();
    assert!(right as f32 >= 0.95 * steady.len() as f32, "{right} of {} frames are exactly D3", steady.len());
    let f0 = steady[20].notes().next().unwrap().f0_hz;
    assert!(cents(f0, midi_to_hz(50.0) * 1.004).abs() < 20.0, "D3 tracked at {f0} Hz");
}

#[test]
fn poly_finds_the_three_notes_of_a_chord() {
    let (sr, hop) = rate_and_hop();
    let len = sr as usize;
    let notes = [45.0f32, 52.0, 61.0];
    let mut x = vec![0.0f32; len];
    for (i, m) in notes.iter().enumerate() {
        for (o, v) in x.iter_mut().zip(pluck(sr, midi_to_hz(*m), 0.2 - 0.03 * i as f32, len)) {
            *o += v;
        }
    }
    let frames = PolyTracker::new(sr, hop).track(&x, hop);
    let steady = &frames[10..frames.len() - 10];
    let exact = steady.iter().filter(|f| midi_set(f) == [45, 52, 61]).count();
    assert!(exact as f32 >= 0.8 * steady.len() as f32, "{exact} of {} frames hold exactly A2 E3 C#4; e.g. {:?}", steady.len(), midi_set(&steady[0]));
    // Each note on its own string, on the strings a guitarist would use.
    let f = &steady[steady.len() / 2];
    let mut strings: Vec<usize> = f.notes().map(|n| n.string).collect();
    strings.sort();
    strings.dedup();
    assert_eq!(strings.len(), 3, "three notes on three strings: {f:?}");
    for n in f.notes() {
        assert!(f.strings.confidence[n.string] > 0.0 && cents(f.strings.f0_hz[n.string], midi_to_hz(n.midi as f32)).abs() < 30.0);
    }
}

#[test]
fn poly_stays_silent_on_silence_and_reports_its_latency() {
    let (sr, hop) = rate_and_hop();
    let mut poly = PolyTracker::new(sr, hop);
    let frames = poly.track(&vec![0.0; 8000], hop);
    assert!(frames.iter().all(|f| f.notes().count() == 0 && f.strings.confidence.iter().all(|c| *c == 0.0)));
    let latency_ms = poly.latency_samples() as f32 / sr * 1000.0;
    assert!(latency_ms <= 25.0, "added latency {latency_ms} ms");
}

#[test]
fn an_open_e_major_chord_goes_to_the_open_shape_and_a_held_note_keeps_its_string() {
    let mut assigner = StringAssigner::default();
    let chord: Vec<f32> = [40.0, 47.0, 52.0, 56.0, 59.0, 64.0].iter().map(|m| midi_to_hz(*m)).collect();
    let mut out = [None; 6];
    assigner.assign(&chord, &mut out);
    assert_eq!(out, [Some(0), Some(1), Some(2), Some(3), Some(4), Some(5)]);
    let frets: Vec<i32> = (0..6).map(|i| assigner.fret(hz_to_midi(chord[i]).round() as i32, out[i].unwrap())).collect();
    assert_eq!(frets, [0, 2, 2, 1, 0, 0]);

    // A lone B3 is the open B string. B3 with C4 cannot both sit on the B string, so one
    // of them moves to the G string; when C4 stops, B3 stays where it was.
    let mut one = [None];
    StringAssigner::default().assign(&[midi_to_hz(59.0)], &mut one);
    assert_eq!(one, [Some(4)]);
    let mut held = StringAssigner::default();
    let mut two = [None, None];
    held.assign(&[midi_to_hz(59.0), midi_to_hz(60.0)], &mut two);
    assert!(two[0] != two[1] && two.iter().all(|s| matches!(s, Some(3) | Some(4))), "{two:?}");
    held.assign(&[midi_to_hz(59.0)], &mut one);
    assert_eq!(one[0], two[0], "a held note does not jump strings");
    // Seven notes: the seventh has no string.
    let seven: Vec<f32> = (0..7).map(|i| midi_to_hz(40.0 + 5.0 * i as f32)).collect();
    let mut out7 = [None; 7];
    StringAssigner::default().assign(&seven, &mut out7);
    assert_eq!(out7.iter().filter(|o| o.is_some()).count(), 6);
    assert_eq!(out7[6], None);
}

#[test]
fn midi_channel_per_string_sounds_on_the_next_frame_bends_and_releases_to_the_floor() {
    let (sr, hop) = rate_and_hop();
    let frame_s = hop as f32 / sr;
    let mut v = MidiVoices::new(MidiMapping::ChannelPerString { first: 0 }, frame_s, (-50.0, -10.0));
    // Channel 1 (wire 0) is the high E string: our string 5.
    v.handle(MidiEvent::NoteOn { channel: 0, note: 69, velocity: 127 });
    let f = v.frame();
    assert!((f.f0_hz[5] - 440.0).abs() < 0.01 && f.confidence[5] == 1.0);
    assert!((f.loudness_db[5] + 10.0).abs() < 1e-3, "full velocity at the top of the range: {}", f.loudness_db[5]);
    assert!((0..5).all(|s| f.confidence[s] == 0.0));
    // Channel 6 (wire 5) is the low E string; velocity 32 lands at lo + (hi−lo)·√(32/127).
    v.handle(MidiEvent::NoteOn { channel: 5, note: 40, velocity: 32 });
    let f = v.frame();
    assert!((f.f0_hz[0] - midi_to_hz(40.0)).abs() < 0.01);
    let expect = -50.0 + 40.0 * (32.0f32 / 127.0).sqrt();
    assert!((f.loudness_db[0] - expect).abs() < 1e-3);
    // A full bend up on channel 1 raises string 5 by the bend range (2 semitones) only.
    v.handle(MidiEvent::bend_from_u14(0, 16383));
    let f = v.frame();
    assert!(cents(f.f0_hz[5], midi_to_hz(71.0)).abs() < 0.2, "{}", f.f0_hz[5]);
    assert!((f.f0_hz[0] - midi_to_hz(40.0)).abs() < 0.01);
    // Held notes fade at 6 dB/s; after note off at 150 dB/s to the floor.
    let before = f.loudness_db[5];
    let one_second = (1.0 / frame_s).round() as usize;
    let mut last = f;
    for _ in 0..one_second {
        last = v.frame();
    }
    assert!((before - last.loudness_db[5] - 6.0).abs() < 0.2, "sustain drop {}", before - last.loudness_db[5]);
    v.handle(MidiEvent::NoteOff { channel: 0, note: 69 });
    let release_s = (last.loudness_db[5] - FLOOR_DB) / 150.0;
    let frames: Vec<_> = (0..one_second * 2).map(|_| v.frame()).collect();
    let gone = frames.iter().position(|f| f.confidence[5] == 0.0).expect("the released voice stops");
    assert!((gone as f32 * frame_s - release_s).abs() <= 2.0 * frame_s, "stopped after {} s, expected {release_s}", gone as f32 * frame_s);
    assert!(frames[gone].loudness_db[5] <= FLOOR_DB + 1e-3);
    assert!(frames[gone - 1].loudness_db[5] < frames[0].loudness_db[5], "the release falls");
    assert!(frames.last().unwrap().confidence[0] == 1.0, "the low E still sounds");
    // Channels outside 1–6 are ignored in this mapping.
    v.handle(MidiEvent::NoteOn { channel: 9, note: 60, velocity: 100 });
    assert_eq!(v.frame().confidence.iter().filter(|c| **c > 0.0).count(), 1);
}

#[test]
fn plain_midi_spreads_a_chord_over_playable_strings_and_steals_the_oldest() {
    let (sr, hop) = rate_and_hop();
    let mut v = MidiVoices::new(MidiMapping::Plain, hop as f32 / sr, (-50.0, -10.0));
    let chord = [40u8, 47, 52, 56, 59, 64];
    for n in chord {
        v.handle(MidiEvent::NoteOn { channel: 0, note: n, velocity: 100 });
    }
    let f = v.frame();
    let mut heard: Vec<u8> = (0..STRINGS).filter(|&s| f.confidence[s] > 0.0).map(|s| hz_to_midi(f.f0_hz[s]).round() as u8).collect();
    heard.sort();
    assert_eq!(heard, chord, "six notes on six strings");
    // Every note sits at a reachable fret of its string.
    for s in 0..STRINGS {
        let fret = hz_to_midi(f.f0_hz[s]).round() as i32 - [40, 45, 50, 55, 59, 64][s];
        assert!((0..=24).contains(&fret), "string {s} fret {fret}");
    }
    // A seventh note steals a string; the chord's first note (the oldest) is gone.
    v.handle(MidiEvent::NoteOn { channel: 0, note: 45, velocity: 100 });
    let f = v.frame();
    let heard: Vec<u8> = (0..STRINGS).filter(|&s| f.confidence[s] > 0.0).map(|s| hz_to_midi(f.f0_hz[s]).round() as u8).collect();
    assert!(heard.contains(&45) && heard.len() == 6, "{heard:?}");
    assert!(!heard.contains(&40), "the oldest note (E2) was stolen: {heard:?}");
    // Note-on with velocity 0 is a note-off.
    v.handle(MidiEvent::NoteOn { channel: 0, note: 45, velocity: 0 });
    for _ in 0..200 {
        v.frame();
    }
    assert_eq!(v.frame().confidence.iter().filter(|c| **c > 0.0).count(), 5);
}
