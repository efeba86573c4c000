"""The dataflow graph (issue #16, part 1): every model of the zoo, captured and replayed to its logits, with
the merges its paper draws."""

import pytest
import torch

import models
from workbench.core.inspect.graph import capture


def _model(name, classes=5):
    info = models.get_model_info(name)
    shape = (3, 32, 32) if not info.fixed_input else info.input_size
    torch.manual_seed(0)
    return models.create_model(name, num_classes=classes, in_channels=shape[0], input_size=shape).eval(), shape


@pytest.mark.parametrize("name", models.list_models())
def test_every_model_is_a_graph_that_computes_its_logits(name):
    model, shape = _model(name)
    x = torch.randn(1, *shape)
    graph, _ = capture(model, x, macs=False)
    logits = graph.result  # the captured pass is the model's forward (hooks only look)
    with torch.no_grad():
        replayed = graph.replay(x)  # every node called again on its inputs' outputs, from the input alone
    assert replayed.shape == logits.shape == (1, 5)
    torch.testing.assert_close(replayed, logits, rtol=0, atol=1e-5)
    assert graph.nodes[graph.output].shape == (5,)
    for node in graph.nodes[1:]:  # every node but the input hangs on earlier nodes
        assert node.inputs and all(i < node.index for i in node.inputs), node.name


def test_the_merges_are_the_papers():
    def graph(name):
        model, shape = _model(name)
        return capture(model, torch.randn(1, *shape), macs=False)[0]

    # He et al. 2015: ResNet-18 is 8 basic blocks, each adding its shortcut.
    resnet = graph("resnet18")
    assert resnet.count("add") == 8
    adds = resnet.merges("add")
    assert [n.module for n in adds] == [f"layer{s}.{b}" for s in range(1, 5) for b in range(2)]
    assert all(len(n.inputs) == 2 for n in adds)
    downsample = next(n for n in resnet.nodes if n.name == "layer2.0.downsample.1")
    assert downsample.index in resnet.merges("add")[2].inputs  # the projection shortcut joins layer2.0's sum
    # Szegedy et al. 2014: nine inception modules, each concatenating four branches; the auxiliary heads are
    # there but take no part in evaluation.
    googlenet = graph("googlenet")
    cats = googlenet.merges("cat")
    assert len(cats) == 9 and all(len(n.inputs) == 4 for n in cats)
    assert set(googlenet.did_not_run) == {"aux1", "aux2"}
    # Huang et al. 2016: DenseNet-121's blocks have 6, 12, 24 and 16 layers; each layer concatenates what came
    # before it, and each block its layers' outputs.
    assert graph("densenet121").count("cat") == (6 + 12 + 24 + 16) + 4
    # Larsson et al. 2016: with C = 4 columns a block has 4 join layers; the net has B = 5 blocks.
    fractal = graph("fractalnet")
    joins = fractal.merges("stack")
    assert len(joins) == 4 * 5 and all(fractal.nodes[fractal.consumers(j.index)[0]].op == "mean" for j in joins)
    # Hu et al. 2017: an SE block scales its channels by a gate, then adds the shortcut.
    se = graph("se_resnet18")
    assert se.count("mul") == 8 and se.count("add") == 8
    # LeCun et al. 1998: C1, S2, C3, S4, C5, F6 and the output, in order, with no merge.
    lenet = graph("lenet5")
    tops = list(dict.fromkeys(n.module.split(".")[0] for n in lenet.nodes if n.kind == "module"))
    assert [t for t in tops if t != "stem"] == ["c1", "s2", "c3", "s4", "c5", "f6", "output"]
    assert not lenet.merges()


def test_recorded_maps_are_what_each_node_computed():
    """A BatchNorm followed by an in-place ReLU keeps its negative values; the ReLU's are not negative."""
    model, _ = _model("resnet18")
    x = torch.randn(1, 3, 32, 32)
    graph, kept = capture(model, x, keep=lambda t: t.detach().clone())
    by_name = {n.name: n for n in graph.nodes}
    assert kept[by_name["bn1"].index].min() < 0 and kept[by_name["relu"].index].min() >= 0
    add = graph.merges("add")[0]
    first, second = (kept[i] for i in add.inputs)
    torch.testing.assert_close(kept[add.index], first + second)  # the sum, not one of its inputs
    assert by_name["conv1"].params == 3 * 64 * 3 * 3 and by_name["fc"].params == 512 * 5 + 5


def test_multiply_adds_per_node_add_up_to_the_models():
    from workbench.core.inspect import count_macs

    model, shape = _model("resnet18")
    graph, _ = capture(model, torch.zeros(1, *shape))
    assert sum(n.macs for n in graph.nodes) == count_macs(model, shape)
    assert next(n for n in graph.nodes if n.name == "conv1").macs == 64 * 32 * 32 * 3 * 3 * 3  # CIFAR stem: 3×3
