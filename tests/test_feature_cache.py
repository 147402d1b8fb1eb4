"""The frozen encoder's feature cache (``agents/feature_cache.py``): lookups equal the encoder's features, images
outside the set go through the encoder, and meta-training on Omniglot with a frozen pretrained encoder finds every
image of its episodes in the task's ``distinct_images``."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from conftest import OMNIGLOT_DIR as OMNIGLOT  # noqa: E402
from test_oneshot import needs_omniglot  # noqa: E402

from plastic_gym.agents.encoder import Conv4Encoder  # noqa: E402
from plastic_gym.agents.feature_cache import FeatureCache  # noqa: E402
from plastic_gym.agents.trainer import TrainConfig, Trainer  # noqa: E402
from plastic_gym.tasks import omniglot  # noqa: E402

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def _encoder() -> Conv4Encoder:
    torch.manual_seed(0)
    return Conv4Encoder(1, 28, channels=8, out_dim=16).eval()


def _features(encoder, images: np.ndarray) -> torch.Tensor:
    with torch.no_grad():
        return encoder(torch.as_tensor(images))


def test_lookups_equal_the_encoder_and_unknown_images_are_encoded():
    encoder = _encoder()
    rng = np.random.default_rng(0)
    known = rng.integers(0, 256, (50, 1, 28, 28), dtype=np.uint8)
    cache = FeatureCache(encoder, known)
    assert len(cache) == 50
    near = known[[5]].copy()
    near[0, 0, 0, 0] ^= 1  # one pixel off a known image: not taken for it
    batch = np.concatenate([known[[3, 3, 49, 0]], rng.integers(0, 256, (3, 1, 28, 28), dtype=np.uint8), near])
    want = _features(encoder, batch)
    torch.testing.assert_close(cache(batch), want, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(cache(torch.as_tensor(batch)), want, rtol=1e-5, atol=1e-5)
    cache.encoder = None  # a batch of known images is answered without the encoder
    torch.testing.assert_close(cache(known[[7, 1]]), _features(encoder, known[[7, 1]]), rtol=1e-5, atol=1e-5)
    with pytest.raises(AttributeError):
        cache(near)  # ... and an unknown one needs it


@pytest.mark.parametrize("images, message", [
    (np.zeros((0, 1, 28, 28), np.uint8), "non-empty uint8 array"),
    (np.zeros((2, 1, 28, 28), np.float32), "non-empty uint8 array"),
    (np.zeros((2, 28, 28), np.uint8), "non-empty uint8 array"),
])
def test_bad_image_sets_are_refused(images, message):
    with pytest.raises(ValueError, match=message):
        FeatureCache(_encoder(), images)


def test_lookups_of_other_images_are_refused():
    cache = FeatureCache(_encoder(), np.zeros((2, 1, 28, 28), np.uint8))
    with pytest.raises(ValueError, match=r"holds uint8 images \(1, 28, 28\), got float32"):
        cache(np.zeros((1, 1, 28, 28), np.float32))


@needs_omniglot
def test_meta_training_on_omniglot_looks_up_every_image_of_its_episodes(tmp_path):
    pre = dict(steps=3, batch_size=8, n_classes=40, eval_every=3, eval_episodes=8, freeze=True)
    config = TrainConfig("PlasticOmniglot-v0", task_kwargs={"split": "train", "rotations": True}, steps=1,
                         hidden_dim=16, batch_size=4, val_every=1, val_episodes=8, encoder_channels=8, pretrain=pre)
    with omniglot.data_root(OMNIGLOT):
        trainer = Trainer(config, tmp_path, progress=False)
        trainer.run()
    data = omniglot.load(OMNIGLOT, "train", 28)
    cache, model = trainer.model.feature_cache, trainer.model
    assert cache is not None and len(cache) == 4 * data.n_characters * data.n_drawings
    episodes = trainer.task.sample(4, np.random.default_rng(0))
    cached = model.encode(episodes.obs)
    cache.encoder = None  # every image of the episodes is in the set: no forward pass
    torch.testing.assert_close(model.encode(episodes.obs), cached)
    model.cache_features(None)  # the encoder's own features, to float rounding
    torch.testing.assert_close(model.encode(episodes.obs), cached, rtol=1e-5, atol=1e-5)


def test_only_a_frozen_encoder_over_a_finite_image_set_is_cached(tmp_path):
    pre = dict(steps=2, batch_size=8, n_classes=40, eval_every=2, eval_episodes=8, freeze=True)
    config = TrainConfig("PlasticOneShot-v0", steps=1, hidden_dim=16, batch_size=4, val_every=1, val_episodes=8,
                         encoder_channels=8, pretrain=pre)
    trainer = Trainer(config, tmp_path, progress=False)
    trainer.run()
    assert trainer.model.encoder_frozen and trainer.model.feature_cache is None  # glyphs: fresh jitter, no end
    unfrozen = Trainer(TrainConfig("PlasticOneShot-v0", steps=1, hidden_dim=16, encoder_channels=8), None,
                       progress=False)
    with pytest.raises(ValueError, match="needs a frozen encoder"):
        unfrozen.model.cache_features(np.zeros((1, 1, 28, 28), np.uint8))
