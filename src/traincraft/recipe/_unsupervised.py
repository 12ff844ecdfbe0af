"""Recipe sections of the tasks without labels or without data: ``cluster``, ``anomaly`` and ``rl``.

Like the rest of the recipe they are strict pydantic models with a docstring per field and a
default for everything, so ``task: rl`` plus ``rl: {env: CartPole-v1}`` is a whole recipe.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from traincraft._util.suggest import did_you_mean
from traincraft.recipe._finetune import KNOWN_PRETRAINED

__all__ = ["ClusterConfig", "AnomalyConfig", "PPOConfig", "DQNConfig", "RLConfig"]

PositiveInt = Annotated[int, Field(ge=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, use_attribute_docstrings=True)


class ClusterConfig(_Strict):
    """`task: cluster`: mini-batch k-means (on torch) over the encoded feature columns."""

    k: int | Literal["auto"] = "auto"
    """Number of clusters, or `auto` to choose it from `k_range` by the silhouette score."""
    k_range: tuple[int, int] = (2, 15)
    """Smallest and largest k tried by `k: auto` (inclusive)."""
    scale: Literal["column", "shared"] = "column"
    """`column`: each numeric column standardised on its own (the encoders' default; right when columns have
    different units). `shared`: one scale for all numeric columns, keeping their relative spread (right when
    they share a unit, e.g. pixel intensities or counts; standardising such columns inflates rare ones)."""
    n_init: PositiveInt = 10
    """Restarts from different k-means++ seedings; the one with the lowest inertia is kept."""
    batch_size: PositiveInt = 1024
    """Rows per mini-batch update (Sculley 2010)."""
    max_steps: PositiveInt = 100
    """Mini-batch updates per restart before the full-pass refinement. Only tables with more rows than
    max_steps x batch_size get them; smaller ones go straight to full passes, which then cost less."""
    refine_steps: Annotated[int, Field(ge=0)] = 100
    """Full passes of Lloyd's algorithm after the mini-batch phase (stopping when no row changes cluster);
    0 keeps the mini-batch centres."""
    silhouette_sample: PositiveInt = 3000
    """Rows (sampled with the run's seed) on which `k: auto` computes silhouette scores; the cost grows with
    its square."""
    reference: str | None = None
    """Optional column of known classes (give it `role: ignore`) to score the clusters against (adjusted
    Rand index, normalised mutual information). Never used for fitting."""
    profile_rows: Annotated[int, Field(ge=0)] = 5
    """Rows nearest each centre listed in the cluster profiles and the report."""
    text_embedding: str | None = None
    """Pretrained sentence encoder that text columns are embedded with: a known name (`minilm`, the packaged
    all-MiniLM-L6-v2) or a local Hugging Face model directory. Each text becomes one unit-length vector (mean of
    the token vectors), so distances between texts follow their cosine similarity. Null: text columns are refused
    (give them role: ignore)."""
    text_max_length: int = Field(default=128, ge=8, le=8192)
    """Longest text in tokens for `text_embedding`; longer texts are cut (all-MiniLM-L6-v2 was trained on 128)."""

    @model_validator(mode="after")
    def _check_k(self) -> ClusterConfig:
        low, high = self.k_range
        if low < 2 or high < low:
            raise ValueError(f"cluster.k_range must be two integers 2 <= low <= high, got {list(self.k_range)}")
        if self.k != "auto" and self.k < 1:
            raise ValueError(f"cluster.k must be at least 1 (or 'auto'), got {self.k}")
        return self

    @model_validator(mode="after")
    def _check_text_embedding(self) -> ClusterConfig:
        name = self.text_embedding
        if name is None:
            return self
        if not name.strip():
            raise ValueError("cluster.text_embedding is empty; give a known name (minilm), a model directory, or null")
        looks_like_path = "/" in name or "\\" in name or name.startswith(".") or name.startswith("~")
        if name not in KNOWN_PRETRAINED and not looks_like_path:
            hint = did_you_mean(name, KNOWN_PRETRAINED)
            raise ValueError(
                f"cluster.text_embedding is {name!r}, which is neither a known encoder ({', '.join(KNOWN_PRETRAINED)}) nor a "
                f"path to a model directory (write ./{name} for a directory here).{hint}"
            )
        return self


class AnomalyConfig(_Strict):
    """`task: anomaly`: an autoencoder over the encoded features; a row's score is its reconstruction error.

    The network trains with the recipe's `train` section (optimiser, epochs, early stopping on the
    validation reconstruction error) on the `split.train` rows.
    """

    contamination: Annotated[float, Field(gt=0.0, lt=0.5)] = 0.05
    """Expected share of anomalies: rows scoring above the (1 - contamination) quantile of the training
    scores are flagged."""
    hidden: list[PositiveInt] = Field(default_factory=lambda: [64])
    """Widths of the encoder's hidden layers; the decoder mirrors them."""
    bottleneck: PositiveInt | Literal["auto"] = "auto"
    """Width of the code layer; `auto` is a quarter of the input width, between 2 and 32. It must be
    narrower than the input, or the network can learn to copy anomalies as well as normal rows."""
    dropout: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0
    """Dropout on the input and hidden layers while training (a denoising autoencoder when above 0)."""
    reference: str | None = None
    """Optional column marking known anomalies (1/true/yes; give it `role: ignore`) to score against
    (ROC-AUC, average precision, precision and recall at the threshold). Never used for fitting."""
    top: Annotated[int, Field(ge=0)] = 20
    """Most anomalous rows listed in anomalies.json and the run summary."""


class PPOConfig(_Strict):
    """Proximal Policy Optimisation (Schulman et al. 2017) with GAE; discrete and Box actions."""

    rollout_steps: PositiveInt = 128
    """Steps collected from each environment per update (the batch is rollout_steps x n_envs)."""
    epochs: PositiveInt = 10
    """Passes over each batch."""
    minibatch_size: PositiveInt = 64
    """Transitions per gradient step."""
    gae_lambda: Annotated[float, Field(ge=0.0, le=1.0)] = 0.95
    """GAE's lambda: 1 is Monte-Carlo advantages, 0 one-step TD."""
    clip: Annotated[float, Field(gt=0.0)] = 0.2
    """Clip range of the probability ratio."""
    clip_schedule: Literal["constant", "linear"] = "constant"
    """`linear` anneals the clip range to 0 over training, as rl-zoo's tuned settings do."""
    clip_value: Annotated[float, Field(gt=0.0)] | None = None
    """Clip the value update to this distance from the old values; null turns it off."""
    ent_coef: Annotated[float, Field(ge=0.0)] = 0.0
    """Weight of the entropy bonus."""
    vf_coef: Annotated[float, Field(ge=0.0)] = 0.5
    """Weight of the value loss."""
    max_grad_norm: Annotated[float, Field(gt=0.0)] = 0.5
    """Clip the global gradient norm to this value."""
    target_kl: Annotated[float, Field(gt=0.0)] | None = None
    """Stop an update's epochs early once the approximate KL to the old policy exceeds 1.5 x this."""
    normalize_advantage: bool = True
    """Standardise advantages within each minibatch."""
    log_std_init: float = 0.0
    """Initial log standard deviation of the Gaussian policy (Box actions)."""


class DQNConfig(_Strict):
    """Deep Q-learning (Mnih et al. 2015) with a replay buffer, a target network and epsilon-greedy
    exploration; discrete actions only. Double Q-learning by default."""

    buffer_size: PositiveInt = 50_000
    """Transitions kept in the replay buffer; the buffer is saved in every checkpoint (50,000 CartPole
    transitions take 2 MB)."""
    learning_starts: Annotated[int, Field(ge=0)] = 1000
    """Environment steps of random actions before learning starts."""
    batch_size: PositiveInt = 64
    """Transitions per gradient step."""
    train_freq: PositiveInt = 4
    """Environment steps (summed over environments) between rounds of gradient steps."""
    gradient_steps: PositiveInt = 1
    """Gradient steps per round."""
    target_update_interval: PositiveInt = 1000
    """Environment steps between copies of the online network into the target network."""
    tau: Annotated[float, Field(gt=0.0, le=1.0)] = 1.0
    """Share of the online weights blended into the target at each update (1 copies them)."""
    exploration_fraction: Annotated[float, Field(gt=0.0, le=1.0)] = 0.1
    """Share of total_steps over which epsilon falls linearly from the initial to the final value."""
    exploration_initial_eps: Annotated[float, Field(ge=0.0, le=1.0)] = 1.0
    """Epsilon at the start."""
    exploration_final_eps: Annotated[float, Field(ge=0.0, le=1.0)] = 0.05
    """Epsilon after the exploration fraction."""
    double_q: bool = True
    """Pick the next action with the online network and value it with the target network (van Hasselt 2016)."""
    max_grad_norm: Annotated[float, Field(gt=0.0)] = 10.0
    """Clip the global gradient norm to this value."""
    iteration_steps: PositiveInt = 1000
    """Environment steps per logged iteration (one metrics.jsonl record, callbacks' on_epoch_end)."""


class RLConfig(_Strict):
    """`task: rl`: learn to act in a Gymnasium environment from its rewards (needs `pip install 'traincraft[rl]'`)."""

    env: str = "CartPole-v1"
    """Gymnasium environment id."""
    env_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Keyword arguments for gymnasium.make (e.g. `{g: 9.81}` for Pendulum-v1)."""
    algorithm: Literal["ppo", "dqn"] = "ppo"
    """`ppo` (discrete or continuous actions) or `dqn` (discrete actions)."""
    total_steps: PositiveInt = 100_000
    """Environment steps to train for, summed over the vectorised environments; rounded down to whole
    iterations (PPO: rollout_steps x n_envs, DQN: dqn.iteration_steps), so a run never takes more."""
    n_envs: PositiveInt = 8
    """Environments stepped side by side (in one process)."""
    hidden: list[PositiveInt] = Field(default_factory=lambda: [64, 64])
    """Hidden layer widths of the networks (actor and critic each, or the Q-network)."""
    activation: Literal["tanh", "relu"] = "tanh"
    """Activation of the hidden layers."""
    lr: Annotated[float, Field(gt=0.0)] = 3e-4
    """Adam learning rate."""
    lr_schedule: Literal["constant", "linear"] = "constant"
    """`linear` anneals the learning rate to 0 over training."""
    gamma: Annotated[float, Field(gt=0.0, le=1.0)] = 0.99
    """Discount factor."""
    normalize_obs: bool = False
    """Standardise observations with running statistics (saved with the policy)."""
    normalize_reward: bool = False
    """Divide rewards by the running std of the discounted return (helps with large returns, e.g. Pendulum)."""
    ppo: PPOConfig = Field(default_factory=PPOConfig)
    """PPO settings (used when algorithm is ppo)."""
    dqn: DQNConfig = Field(default_factory=DQNConfig)
    """DQN settings (used when algorithm is dqn)."""
    eval_episodes: PositiveInt = 20
    """Episodes of the final evaluation (deterministic actions, seeds apart from training's)."""
    eval_every: PositiveInt | None = None
    """Environment steps between evaluations during training (logged as rl/eval_return); null: only at the end."""
    checkpoint_every: PositiveInt = 10_000
    """Environment steps between checkpoints (taken at the next iteration boundary, and always at the end)."""
    device: Literal["auto", "cpu", "cuda", "mps"] = "cpu"
    """Where the networks run. Small MLPs stepping a few environments are fastest on the CPU."""
    threads: PositiveInt = 1
    """torch CPU threads; one is fastest for these small networks and never oversubscribes the cores."""
