"""Data recipes: speech, speech-real, music, sound, and folder/manifest corpora."""
