"""Model tab: positions "None (order-blind)" is offered, published and costs no parameters."""

from __future__ import annotations

from test_model_tab import make_tab, set_custom, state  # noqa: F401 - fixtures used by name

from playground.core import config
from playground.core import model as mm


def test_none_positions_are_offered_and_have_no_parameters(state, make_tab):  # noqa: F811
    tab = make_tab(state)
    combo = tab.positional_combo
    assert combo.itemText(combo.findData("none")) == "None (order-blind)"
    assert "bag" in combo.toolTip()
    set_custom(tab, layers=1, heads=2, width=32, context=16, positional="none")
    cfg = state.model_config
    assert cfg.positional == "none"
    model = mm.build_model(cfg)
    assert model.position_embeddings() is None
    assert tab.breakdown["positions"] == 0
    assert sum(tab.breakdown.values()) == sum(p.numel() for p in model.parameters()) == config.param_count(cfg)
    assert tab.params.chart.values[1] == 0  # the positions bar
