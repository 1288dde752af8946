"""Media pipeline: concept, images, narration, captions and the ffmpeg video step."""
