# Generated from vocab_manifest.toml by hatch_build.py: do not edit by hand.
# tests/test_pins.py fails if this copy drifts from the manifest.
PINS = {
    "o200k_base": {
        "file": "o200k_base.tiktoken",
        "sha256": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
        "size": 3613922,
        "ranks": 199998,
        "byte_level_sha256": "0fc8da96e9c1e979d83a0ad79129255c04f3d2806273de8cba33bbc584ed23fe",
        "urls": ("https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",),
    },
    "cl100k_base": {
        "file": "cl100k_base.tiktoken",
        "sha256": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
        "size": 1681126,
        "ranks": 100256,
        "byte_level_sha256": "382b386459ef54c9a389f04eb5dc1dd1143ea9183f0cc640df91a34e1857ca18",
        "urls": ("https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",),
    },
}
