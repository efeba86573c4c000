"""Controllers against the session alone, without the window: they change the session and
submit jobs; what observes the session hears one notice a change."""

import torch
from PySide6.QtCore import QObject, Slot

from reference import preprocess_by_hand
from workbench.ui.controllers.inspection import InspectionController
from workbench.ui.controllers.model import ModelController
from workbench.ui.jobs import JobRunner
from workbench.ui.state import Session


class Collect(QObject):
    """Predictions as the inspection controller emits them, in the UI thread."""

    def __init__(self):
        super().__init__()
        self.predictions = []

    @Slot(object, str)
    def take(self, predictions, note):
        self.predictions.append((predictions, note))


def test_a_model_for_the_form_and_a_new_image_reach_the_session_and_its_predictions(qtbot, digits):
    session, jobs = Session(), JobRunner(workers=1, name="model")
    heard = []
    session.subscribe(heard.append)
    model, inspection, sink = ModelController(session, jobs), InspectionController(session, jobs), Collect()
    inspection.predictionsReady.connect(sink.take)

    model.show_selection("lenet5", "digits", digits, False, None)
    qtbot.waitUntil(lambda: not jobs.busy and len(sink.predictions) == 1, timeout=60_000)
    assert session.model_name == "lenet5" and session.dataset.name == "digits" and session.run is None
    assert session.predictor.input_shape == (1, 32, 32) and session.summary.model == "lenet5"
    image, label = digits.test[0]
    torch.testing.assert_close(session.image, image)
    assert session.caption == f"test image 0 (label {int(label)})"
    assert len(heard) == 1 and {"predictor", "summary", "dataset", "image"} <= heard[0]  # one notice, all at once

    # Another image in the session: the controller classifies it, the model's softmax by hand.
    other, _ = digits.test[5]
    session.set(image=other, caption="test image 5")
    qtbot.waitUntil(lambda: not jobs.busy and len(sink.predictions) == 2, timeout=60_000)
    predictions, note = sink.predictions[-1]
    net = session.predictor.model.eval()
    with torch.no_grad():
        probs = torch.softmax(net(preprocess_by_hand(other[None], (32, 32), digits.mean, digits.std))[0], 0)
    assert note == "(untrained)" and predictions[0][0] == str(int(probs.argmax()))
    assert abs(predictions[0][1] - float(probs.max())) < 1e-5
    jobs.shutdown()


def test_the_same_model_built_twice_is_the_same_model(qtbot, digits):
    """Untrained models on show draw from a fixed seed: two builds agree weight for weight."""
    session, jobs = Session(), JobRunner(workers=1, name="model")
    model = ModelController(session, jobs)
    built = []
    model.shown.connect(lambda shown: built.append(shown.predictor.model.state_dict()))
    for _ in range(2):
        model.show_selection("resnet20", "digits", digits, False, None)
        qtbot.waitUntil(lambda: not jobs.busy, timeout=60_000)
    assert len(built) == 2 and all(torch.equal(a, b) for a, b in zip(built[0].values(), built[1].values()))
    jobs.shutdown()
