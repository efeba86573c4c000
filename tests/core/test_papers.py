"""The papers' numbers (issue #19, part 5): every figure in ``resources/papers.toml`` names its source and
matches it. The ImageNet figures are checked against torchvision's own metadata for the weights the
workbench downloads; the papers' CIFAR figures against the paper's printed row (``quote``) and against the
paper's own parameter count for the network, so no figure is attached to the wrong model of the zoo."""

from __future__ import annotations

import re

import pytest

import models
from workbench.core import papers
from workbench.core.pretrained import TORCHVISION_WEIGHTS
from workbench.core.train.config import RECIPES

FIGURES = papers.figures()
PAPER_FIGURES = [f for f in FIGURES if f.dataset != "imagenet"]
IMAGENET_FIGURES = [f for f in FIGURES if f.dataset == "imagenet"]


def test_every_figure_names_its_source():
    assert FIGURES, "papers.toml holds no figure"
    for f in FIGURES:
        assert f.paper and f.where and f.url.startswith("https://"), f
        assert f.model in models.list_models(), f.model
        assert f.recipe_description(), f"{f.model} on {f.dataset}: no recipe, neither named nor described"
        if f.recipe:
            assert f.recipe in RECIPES, f.recipe


def test_the_issue_s_figures_are_there():
    """He et al. 2016 Table 6 (ResNet-20 … 110), DenseNet-BC-100, WRN-28-10, ResNeXt-29 on CIFAR-10/100."""
    have = {(f.model, f.dataset) for f in FIGURES}
    for depth in (20, 32, 44, 56, 110):
        assert (f"resnet{depth}", "cifar10") in have
    for model in ("densenet_bc_100", "wrn28_10", "resnext29_8x64d"):
        assert {(model, "cifar10"), (model, "cifar100")} <= have
    assert set(TORCHVISION_WEIGHTS) == {f.model for f in IMAGENET_FIGURES}, "a model with weights has no figure"


@pytest.mark.parametrize("figure", IMAGENET_FIGURES, ids=lambda f: f.model)
def test_imagenet_figures_are_torchvision_s_for_the_weights_the_workbench_downloads(figure):
    from torchvision.models import get_model_weights

    enum = get_model_weights(TORCHVISION_WEIGHTS[figure.model])
    default = enum.DEFAULT
    assert figure.weights == f"{type(default).__name__}.{default.name}"  # what --pretrained downloads
    assert figure.value == default.meta["_metrics"]["ImageNet-1K"]["acc@1"]
    assert figure.metric == "top1_accuracy"


@pytest.mark.parametrize("figure", PAPER_FIGURES, ids=lambda f: f"{f.model}-{f.dataset}")
def test_paper_figures_match_the_printed_row_and_the_paper_s_network(figure):
    assert figure.metric == "error"
    assert f"{figure.value:.2f}" in figure.quote or f"{figure.value:g}" in figure.quote, figure.quote
    assert figure.params and figure.params in figure.quote, "the row gives the network's size"
    # The tables print one size per network, counted with CIFAR-10's ten-class head.
    net = models.create_model(figure.model, num_classes=10, in_channels=3)
    count = sum(p.numel() for p in net.parameters()) / 1e6
    number = figure.params.rstrip("M")
    digits = len(number.split(".")[1]) if "." in number else 0
    assert round(count, digits) == float(number), f"{figure.model}: {count:.3f}M parameters, the paper's {number}M"


def test_the_gap_and_the_words():
    comparison = papers.compare({"model": "resnet20", "dataset": "cifar10", "recipe": "he2015-cifar"},
                                {"test_acc": 0.88, "epochs": 10, "epochs_planned": 182, "global_step": 3910})
    assert comparison.figure.value == 8.75
    assert comparison.gap == pytest.approx(88.0 - 91.25)  # accuracy points: 100 − 8.75 = 91.25
    assert comparison.cell() == "91.25 % (−3.25)"
    text = comparison.text()
    assert "Table 6" in text and "3.25 points below" in text and "10 of its 182 epochs" in text
    assert "32k and 48k" in text  # the paper's recipe in words
    assert "3,910 steps; the paper's schedule is 64,000 iterations" in text
    dense = papers.compare({"model": "densenet_bc_100", "dataset": "cifar100", "recipe": "huang2016-cifar"},
                           {"test_acc": 0.5, "epochs": 20, "epochs_planned": 20})
    assert "trained 20 epochs; the paper's schedule is 300" in dense.text()
    other = papers.compare({"model": "resnet20", "dataset": "cifar10", "recipe": None}, {"test_acc": 0.93})
    assert "did not use the paper's recipe" in other.text() and other.cell() == "91.25 % (+1.75)"
    assert papers.compare({"model": "resnet20", "dataset": "/home/me/pokemon"}, {"test_acc": 0.9}) is None
    assert papers.compare({"model": "lenet5", "dataset": "mnist"}, {}) is None
    assert papers.figure_for("resnet20", "CIFAR-10") is comparison.figure or \
        papers.figure_for("resnet20", "CIFAR-10") == comparison.figure
    assert papers.figure_for("densenet_bc_100", "cifar100").short == "Huang et al. 2017, Table 2, C100+"
    assert papers.figure_for("wrn28_10", "cifar10").short.startswith("Zagoruyko & Komodakis 2016")


def test_figure_6_is_labelled_with_the_paper_s_caption():
    figure = papers.degradation()
    assert figure.figure == "Figure 6" and "plain-110 is higher than 60%" in figure.caption
    assert "8.75" in figure.reported and "6.97" in figure.reported  # Table 6's ResNet-20 and ResNet-56


@pytest.mark.parametrize("broken, words", [
    ('[[figure]]\nmodel="resnet20"\ndataset="cifar10"\nmetric="error"\nvalue=8.75\npaper="He"\nwhere="T6"\n', "no url"),
    ('[[figure]]\nmodel="resnet20"\ndataset="cifar10"\nmetric="error"\nvalue=108\npaper="He"\nwhere="T6"\nurl="u"\n',
     "not a percentage"),
    ('[[figure]]\nmodel="resnet20"\ndataset="cifar10"\nmetric="loss"\nvalue=8\npaper="He"\nwhere="T6"\nurl="u"\n',
     "metric 'loss'"),
    ('[[figure]]\nmodel="resnet20"\ndataset="cifar10"\nmetric="error"\nvalue=8\npaper="He"\nwhere="T6"\nurl="u"\n'
     'colour="red"\n', "unknown field 'colour'"),
])
def test_a_figure_without_its_source_or_with_a_wrong_value_is_refused(broken, words):
    with pytest.raises(papers.PapersError, match=re.escape(words)):
        papers.parse(broken)
