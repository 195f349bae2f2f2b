"""Writing what was made: audio, MIDI, stems and brief files, and the soundtrack muxed into a video."""
