"""Music theory the composer, the perceivers and the evaluation share: scales, chords, instruments,
styles, form, melody rules, reharmonisation, the arrangement data model and audio analysis."""
