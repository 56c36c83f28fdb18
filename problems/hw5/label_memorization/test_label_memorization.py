"""Tests for hw5/label_memorization: random labels, in-place SGD judged on the trusted side, accuracy.

Training runs in the sandbox on a copy of a model these tests build; the trained weights come back as
plain tensors (grader.call_training) and every accuracy that decides a grade is measured here, on a
copy of the tests' own architecture. The cases are fixed lists rather than Hypothesis draws: training
costs tenths of a second, and a few well-chosen cases (a partial last batch, float64, modes) are worth
more than many random ones.
"""

import math

import torch
from hypothesis import example, given
from hypothesis import strategies as st
from torch import nn

from grader import call_pure, call_training, points, record_curve

K = 10  # classes of the training problems
MARGIN = 0.10  # the statement's margin below the reference's training accuracy
CHANCE_BAND = 0.08  # how far from 1/K accuracy on fresh images may stray (over 1000 images)


# -- data and models, all built here from seeds ------------------------------------------------------


def noise(n: int, shape: tuple[int, int, int], seed: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn((n, *shape), generator=generator, dtype=torch.float64).to(dtype)


def labels_for(n: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, K, (n,), generator=generator)


def mlp(shape: tuple[int, int, int], hidden: int, seed: int, *, dropout: float = 0.0, dtype=torch.float32) -> nn.Module:
    torch.manual_seed(seed)
    layers = [nn.Flatten(), nn.Linear(math.prod(shape), hidden), nn.ReLU()]
    if dropout:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(hidden, K))
    return nn.Sequential(*layers).to(dtype)


def small_cnn(shape: tuple[int, int, int], seed: int) -> nn.Module:
    torch.manual_seed(seed)
    c, h, w = shape
    return nn.Sequential(
        nn.Conv2d(c, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(8 * (h // 2) * (w // 2), 128), nn.ReLU(), nn.Linear(128, K),
    )


def trusted_accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Accuracy of a model that lives here, in eval mode, without gradients; its modes are left alone."""
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    with torch.no_grad():
        correct = (model(images).argmax(dim=1) == labels).sum().item()
    for m, training in modes:
        m.training = training
    return correct / len(labels)


def one_hot_images(n: int, side: int, dtype=torch.float64) -> torch.Tensor:
    """n images of 1 x side x side, image j lit at pixel j alone: a probe whose columns train independently."""
    return torch.eye(n, side * side, dtype=dtype).reshape(n, 1, side, side)


def linear_probe(n_pixels: int, dtype=torch.float64) -> nn.Module:
    """Flatten then a bias-free Linear with zero weights: column j of the weight sees image j alone."""
    model = nn.Sequential(nn.Flatten(), nn.Linear(n_pixels, K, bias=False)).to(dtype)
    with torch.no_grad():
        model[1].weight.zero_()
    return model


def history_list(value, epochs: int) -> list[float]:
    """The returned history, checked to be a list of `epochs` Python floats in [0, 1]."""
    __tracebackhide__ = True
    if not isinstance(value, list):
        fail(f"train must return a list of floats, got {type(value).__name__}")
    if len(value) != epochs:
        fail(f"train returned {len(value)} accuracies for {epochs} epochs")
    for i, a in enumerate(value):
        if type(a) is not float:
            fail(f"train's history[{i}] is a {type(a).__name__}, not a Python float")
        if not 0.0 <= a <= 1.0:
            fail(f"train's history[{i}] = {a!r} is not an accuracy in [0, 1]")
    return value


def fail(message: str) -> None:
    """Fail the test with `message` alone (pytest's introspection of an assert would print whole tensors)."""
    __tracebackhide__ = True
    raise AssertionError(message)


def require(ok: bool, message: str) -> None:
    """`fail(message)` unless `ok`; for messages that can be built whatever the outcome."""
    __tracebackhide__ = True
    if not ok:
        fail(message)


def no_other_changes(trained, name: str = "train") -> None:
    __tracebackhide__ = True
    require(not trained.changed, f"{name} modified its {', '.join(trained.changed)} in place; only the model may")


# -- random_labels ------------------------------------------------------------------------------------


@points(1)
@given(num_classes=st.integers(2, 100), seed=st.integers(0, 2**31 - 1))
@example(num_classes=10, seed=0)
@example(num_classes=2, seed=1)
@example(num_classes=100, seed=2)
def test_labels_cover_every_class_uniformly(student, num_classes, seed):
    # 200 labels a class: a correct sampler misses a class with probability below 1e-80, and its
    # counts leave the 7-sigma band around n/K with probability below 1e-9: no draw decides.
    n = 200 * num_classes
    labels = student.random_labels(n, num_classes, seed)
    require(isinstance(labels, torch.Tensor), f"random_labels must return a tensor, got {type(labels).__name__}")
    require(labels.dtype == torch.int64, f"random_labels must return a LongTensor (int64), got {labels.dtype}")
    call = f"random_labels({n}, {num_classes}, {seed})"
    require(tuple(labels.shape) == (n,), f"{call} has shape {tuple(labels.shape)}, expected ({n},)")
    low, high = int(labels.min()), int(labels.max())
    require(low >= 0 and high < num_classes, f"{call} has labels from {low} to {high}; they must be in 0..{num_classes - 1}")
    counts = torch.bincount(labels, minlength=num_classes)
    for c in range(num_classes):
        if counts[c] == 0:
            fail(f"{call} never draws class {c} in {n} labels (classes 0..{num_classes - 1} must all be possible)")
    expected = n / num_classes
    spread = 7 * math.sqrt(expected * (1 - 1 / num_classes))
    worst = int(torch.argmax((counts.double() - expected).abs()))
    require(
        abs(counts[worst].item() - expected) <= spread,
        f"{call} draws class {worst} {counts[worst].item()} times; a uniform draw gives {expected:g} ± {spread:.0f}",
    )


@points(1)
@given(num_classes=st.integers(2, 100), seed=st.integers(0, 2**31 - 2))
@example(num_classes=10, seed=0)
def test_labels_depend_only_on_the_seed(student, num_classes, seed):
    n = 400
    first = student.random_labels(n, num_classes, seed)
    again = student.random_labels(n, num_classes, seed)
    other = student.random_labels(n, num_classes, seed + 1)
    for value in (first, again, other):
        require(
            isinstance(value, torch.Tensor) and tuple(value.shape) == (n,),
            f"random_labels({n}, {num_classes}, ...) must return a tensor of shape ({n},)",
        )
    require(torch.equal(first, again), f"random_labels({n}, {num_classes}, {seed}) gave different labels when called twice")
    require(
        not torch.equal(first, other),
        f"random_labels({n}, {num_classes}, {seed}) and random_labels({n}, {num_classes}, {seed + 1}) gave the same "
        "labels: the labels must come from the seed (a torch.Generator seeded with it), not from the global RNG",
    )


# -- accuracy ---------------------------------------------------------------------------------------


def mixed_mode_model(seed: int) -> nn.Module:
    """Dropout and BatchNorm in mixed modes: eval mode changes the output, and a mode left changed shows."""
    torch.manual_seed(seed)
    model = nn.Sequential(
        nn.Flatten(), nn.Linear(48, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, K),
    )
    with torch.no_grad():
        model[2].running_mean.uniform_(-1, 1)
        model[2].running_var.uniform_(0.5, 2)
    return model


@points(1)
def test_accuracy_in_eval_mode_restoring_modes(student):
    images, labels = noise(200, (3, 4, 4), seed=7), labels_for(200, seed=8)
    for modes in ("all train", "all eval", "dropout in eval, the rest in train", "batchnorm in train, the rest in eval"):
        model = mixed_mode_model(seed=9)
        if modes == "all eval":
            model.eval()
        elif modes == "dropout in eval, the rest in train":
            model[4].eval()
        elif modes == "batchnorm in train, the rest in eval":
            model.eval()
            model[2].train()
        expected = trusted_accuracy(model, images, labels)
        # call_pure fails the test if a parameter, a buffer (BatchNorm's running statistics) or the
        # mode of any submodule differs after the call.
        got = call_pure(student.accuracy, model, images, labels)
        require(type(got) is float, f"accuracy must return a Python float, got {type(got).__name__}")
        require(
            abs(got - expected) <= 1e-6,
            f"accuracy(model, images, labels) = {got!r} on a model with {modes}; measured in eval mode it is "
            f"{expected!r} (Dropout off, BatchNorm on its running statistics)",
        )


# -- train: the procedure, on probes whose trained weights can be predicted ----------------------------


ONE_EPOCH_CASES = [  # (images, side, batch_size, lr)
    (64, 8, 48, 0.5),  # a full batch of 48, then a partial one of 16
    (100, 10, 32, 0.3),  # three of 32, then 4
    (64, 8, 64, 1.0),  # one batch
]


@points(1)
def test_one_epoch_is_minibatch_sgd_on_the_mean_loss(student):
    # With image j lit at pixel j alone and zero weights, one epoch moves weight column j exactly once,
    # by lr / |batch| * (onehot(label) - 1/K), whatever the order: a check of the batches' sizes (the
    # last partial one kept), the mean loss, the learning rate, the labels and zeroed gradients.
    for n, side, batch_size, lr in ONE_EPOCH_CASES:
        images, labels = one_hot_images(n, side), labels_for(n, seed=n)
        model = linear_probe(side * side)
        trained = call_training(student.train, model, images, labels, 1, lr, batch_size, 0)
        no_other_changes(trained)
        weight = trained.model[1].weight.detach()[:, :n]
        direction = torch.nn.functional.one_hot(labels, K).double().T - 1 / K
        sizes = [min(batch_size, n - start) for start in range(0, n, batch_size)]
        per_column = []
        for j in range(n):
            column = weight[:, j]
            scale = (column * direction[:, j]).sum().item() / (direction[:, j] ** 2).sum().item() / lr
            per_column.append(scale)
            fits = torch.allclose(column, lr * scale * direction[:, j], rtol=1e-6, atol=1e-9)
            nearest = min(sizes, key=lambda s: abs(1 / s - scale))
            if not column.any():
                fail(
                    f"after one epoch (n={n}, batch_size={batch_size}, lr={lr}) the weights for image {j} did not move: "
                    "every image must be in one minibatch per epoch (the last, partial minibatch is kept)"
                )
            if not fits or abs(1 / nearest - scale) > 1e-6 / nearest:
                label_moved = int(torch.argmax(column))
                fail(
                    f"after one epoch (n={n}, batch_size={batch_size}, lr={lr}) the weights for image {j} (label "
                    f"{labels[j].item()}) are not one SGD step on the mean cross-entropy of a minibatch: expected "
                    f"lr/|batch| * (onehot(label) - 1/{K}) with |batch| in {sorted(set(sizes))}; the largest weight "
                    f"is for class {label_moved} and the step is {scale:.6g}/lr where 1/|batch| is "
                    f"{', '.join(f'{1 / s:.6g}' for s in sorted(set(sizes)))}"
                )
        got_sizes = sorted(round(1 / s) for s in per_column)
        want_sizes = sorted(s for s in sizes for _ in range(s))
        require(
            got_sizes == want_sizes,
            f"after one epoch (n={n}, batch_size={batch_size}) the images were trained in minibatches whose sizes are not "
            f"{sizes}: every image belongs to exactly one minibatch, and the last partial one is kept",
        )


@points(1)
def test_plain_sgd_without_momentum_or_weight_decay(student):
    # The probe again, in one minibatch of all the images: every epoch is one step, whose effect on
    # each weight column is known exactly, so three epochs of plain SGD can be computed here. Momentum
    # or weight decay first shows in the second step.
    n, side, lr, epochs = 64, 8, 2.0, 3
    images, labels = one_hot_images(n, side), labels_for(n, seed=5)
    trained = call_training(student.train, linear_probe(side * side), images, labels, epochs, lr, n, 0)
    no_other_changes(trained)
    expected = torch.zeros(K, n, dtype=torch.float64)
    target = torch.nn.functional.one_hot(labels, K).double().T
    for _ in range(epochs):
        expected -= lr / n * (torch.softmax(expected, dim=0) - target)
    weight = trained.model[1].weight.detach()[:, :n]
    worst = float((weight - expected).abs().max())
    require(
        worst <= 1e-9 + 1e-6 * float(expected.abs().max()),
        f"after {epochs} epochs of one minibatch of all {n} images (lr={lr}) the weights differ from plain SGD's by "
        f"up to {worst:.3g}: each step must be theta <- theta - lr * grad, with no momentum and no weight decay",
    )


def column_histories(trained_model: nn.Module, n: int) -> int:
    weight = trained_model[1].weight.detach()[:, :n]
    return len({tuple(round(v, 9) for v in weight[:, j].tolist()) for j in range(n)})


@points(1)
def test_order_is_reshuffled_each_epoch_from_the_seed(student):
    # The probe with every label 0: a column's weights after 3 epochs depend only on the sizes of the
    # batches its image was in. A fresh order each epoch mixes them (many distinct columns); one order
    # kept for every epoch leaves two kinds of column, those always in the partial batch and the rest.
    n, side, batch_size, lr, epochs = 64, 8, 48, 0.5, 3
    images, labels = one_hot_images(n, side), torch.zeros(n, dtype=torch.int64)
    model = linear_probe(side * side)
    first = call_training(student.train, model, images, labels, epochs, lr, batch_size, 11)
    again = call_training(student.train, model, images, labels, epochs, lr, batch_size, 11)
    other = call_training(student.train, model, images, labels, epochs, lr, batch_size, 12)
    for trained in (first, again, other):
        no_other_changes(trained)
    w1, w2, w3 = (t.model[1].weight.detach() for t in (first, again, other))
    require(
        torch.equal(w1, w2), "train with the same seed twice gave different weights: the order must depend only on the seed"
    )
    require(
        not torch.equal(w1, w3),
        "train with seeds 11 and 12 gave the same weights on a probe where the order shows (each image's weights "
        "depend on the sizes of the minibatches it was in, under the mean loss): the order of the examples must "
        "come from the seed (a torch.Generator seeded with it), not from the global RNG or a fixed order",
    )
    kinds = column_histories(first.model, n)
    require(
        kinds > 2,
        f"after {epochs} epochs every image was either always in the last partial minibatch or never ({kinds} kinds "
        "of weight column): the examples must be shuffled afresh every epoch",
    )


def batchnorm_model(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(48, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, K))


@points(1)
def test_trains_in_training_mode_then_restores_the_mode(student):
    # BatchNorm counts its training-mode forward passes: exactly one per minibatch, none while the
    # accuracy is measured (eval mode), and its running statistics move.
    n, batch_size, epochs = 100, 32, 2
    images, labels = noise(n, (3, 4, 4), seed=21), labels_for(n, seed=22)
    steps = epochs * math.ceil(n / batch_size)
    for given_mode in ("train", "eval"):
        model = batchnorm_model(seed=23)
        model.train(given_mode == "train")
        trained = call_training(student.train, model, images, labels, epochs, 0.05, batch_size, 0)
        no_other_changes(trained)
        counted = int(trained.model[2].num_batches_tracked)
        require(
            counted == steps,
            f"given a model in {given_mode} mode, its BatchNorm ran {counted} training-mode forward passes; {epochs} "
            f"epochs of {n} images in minibatches of {batch_size} take {steps} (one per step: train in training "
            "mode, measure the accuracy in eval mode)",
        )
        require(
            trained.mode_change is None,
            f"train left the model{trained.mode_change} changed: a model given in {given_mode} mode must be back in "
            f"{given_mode} mode afterwards",
        )


# -- train: what it achieves, measured here -----------------------------------------------------------


MEMORIZE = dict(n=256, shape=(3, 8, 8), hidden=128, epochs=15, lr=0.1, batch_size=32)
_reference_runs: dict[str, tuple[float, list[float]]] = {}


def memorization_run(fn, *, seed: int = 31):
    """Train the memorization MLP with `fn`; the trained copy, its accuracy (measured here), the history."""
    c = MEMORIZE
    images = noise(c["n"], c["shape"], seed=seed)
    labels = labels_for(c["n"], seed=seed + 1)
    model = mlp(c["shape"], c["hidden"], seed=seed + 2)
    trained = call_training(fn, model, images, labels, c["epochs"], c["lr"], c["batch_size"], seed + 3)
    return trained, images, labels


def reference_figures(reference) -> tuple[float, list[float]]:
    """The reference's training accuracy (measured here) and its history, under the same seeds."""
    if "memorize" not in _reference_runs:
        trained, images, labels = memorization_run(reference.train)
        _reference_runs["memorize"] = (trusted_accuracy(trained.model, images, labels), list(trained.value))
    return _reference_runs["memorize"]


@points(1)
def test_memorizes_random_labels(student, reference):
    c = MEMORIZE
    ref_accuracy, ref_history = reference_figures(reference)
    trained, images, labels = memorization_run(student.train)
    no_other_changes(trained)
    measured = trusted_accuracy(trained.model, images, labels)
    history = trained.value if isinstance(trained.value, list) else []
    record_curve("training accuracy on random labels", history, ref_history, y_label="training accuracy")
    needed = ref_accuracy - MARGIN
    require(
        measured >= needed,
        f"training accuracy after {c['epochs']} epochs (measured by the grader on the trained weights): "
        f"{measured:.2f}; the reference reaches {ref_accuracy:.2f}; needed ≥ {needed:.2f}",
    )


@points(1)
def test_history_matches_the_trained_weights(student):
    # Few epochs, so that the accuracy is still climbing, and Dropout, so that an accuracy measured in
    # training mode differs from the one in eval mode.
    n, shape, epochs = 256, (1, 8, 8), 4
    images, labels = noise(n, shape, seed=41), labels_for(n, seed=42)
    model = mlp(shape, 96, seed=43, dropout=0.3)
    trained = call_training(student.train, model, images, labels, epochs, 0.1, 16, 44)
    no_other_changes(trained)
    history = history_list(trained.value, epochs)
    measured = trusted_accuracy(trained.model, images, labels)
    require(
        abs(history[-1] - measured) <= 1 / n + 1e-9,
        f"train's history ends with {history[-1]:.4f}, but the trained weights it left have a training accuracy of "
        f"{measured:.4f} (measured by the grader in eval mode): entry e is the accuracy after epoch e + 1, "
        "measured in eval mode on all the images",
    )


@points(1)
def test_fresh_images_stay_at_chance(student):
    # A network that memorized random labels has learnt nothing that carries over: on fresh noise
    # with fresh labels its accuracy stays near 1/K, and the student's accuracy() says so too.
    trained, _, _ = memorization_run(student.train, seed=51)
    fresh, fresh_labels = noise(1000, MEMORIZE["shape"], seed=61), labels_for(1000, seed=62)
    measured = trusted_accuracy(trained.model, fresh, fresh_labels)
    require(
        abs(measured - 1 / K) <= CHANCE_BAND,
        f"accuracy of the trained model on 1000 fresh noise images with fresh random labels: {measured:.3f}; "
        f"chance is {1 / K:.2f} (allowed ± {CHANCE_BAND})",
    )
    said = student.accuracy(trained.model, fresh, fresh_labels)
    require(
        type(said) is float and abs(said - measured) <= 1e-6,
        f"accuracy(trained model, fresh images, fresh labels) = {said!r}; measured by the grader: {measured!r}",
    )
