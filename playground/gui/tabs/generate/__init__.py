"""Step 6, the Generate tab, one module per page (see ``tab.py``).

    tab.py            GenerateTab: the run picker, the sampling form, the three pages
    write_page.py     Write: stream or step through tokens, the next-token chart, attention
    score_page.py     Score a text: surprise per token, training vs validation text
    compare_page.py   Compare: two runs or checkpoints, same prompt and seed
    sampling_form.py  temperature, top-k, top-p, seed … as a SamplingConfig
    common.py         number words, unknown-character marking, the model loader
    jobs.py           the worker jobs (no widgets)

The text of the Write page lives in ``core.generation_session`` (Qt-free, tested alone).
"""

from playground.gui.tabs.generate.tab import GenerateTab

__all__ = ["GenerateTab"]
