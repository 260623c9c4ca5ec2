"""The Qt-free engine: corpora, tokenizers, models, training, generation, analysis.

Nothing under ``playground.core`` may import Qt (a test enforces it); the GUI and the CLI
are two thin drivers of the same code.
"""
