"""Reading and writing media, one reader per medium: audio, video and text files."""
