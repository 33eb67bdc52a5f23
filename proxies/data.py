"""Training data of a proxy: a deterministic stream of packed sequences drawn from weighted components.

Each component is a packed token array (``.npy``, uint16 or uint32; documents separated by an
end-of-text token) or a folder of them (one per pool shard, read as their concatenation), memory-mapped
so a proxy never loads a whole component. A batch holds
``batch_size`` windows of ``seq_len + 1`` tokens. How many windows each component gets is
allocated by running credit (each batch adds ``weight * batch_size`` to a component's credit and the
largest credits win the slots), so token shares follow the mixture exactly over a run instead of
drifting with multinomial noise; offsets inside a component are random but seeded.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch


class ShardedTokens:
    """Several memory-mapped token arrays read as one: ``len`` and slices, a slice may span arrays."""

    def __init__(self, arrays: list[np.ndarray]):
        self.arrays = arrays
        self.starts = np.cumsum([0] + [len(a) for a in arrays])
        self.dtype = arrays[0].dtype

    def __len__(self) -> int:
        return int(self.starts[-1])

    def __getitem__(self, window: slice) -> np.ndarray:
        start, stop, _ = window.indices(len(self))
        first = int(np.searchsorted(self.starts, start, side="right")) - 1
        parts = []
        while start < stop:
            a = self.arrays[first]
            lo = start - int(self.starts[first])
            parts.append(a[lo:lo + stop - start])
            start += len(parts[-1])
            first += 1
        return np.concatenate(parts) if len(parts) != 1 else np.asarray(parts[0])

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        return np.concatenate(self.arrays).astype(dtype or self.dtype, copy=False)


def load_tokens(path: str | Path) -> np.ndarray | ShardedTokens:
    """Memory-map one packed token array, or every ``*.npy`` of a folder as one; errors name the file."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: token file not found (run the sweep to build components)")
    if path.is_dir():
        files = sorted(path.glob("*.npy"))
        if not files:
            raise FileNotFoundError(f"{path}: no token files (*.npy) in the component's folder")
        return ShardedTokens([load_tokens(f) for f in files]) if len(files) > 1 else load_tokens(files[0])
    arr = np.load(path, mmap_mode="r")
    if arr.ndim != 1 or arr.dtype not in (np.uint16, np.uint32):
        raise ValueError(f"{path}: expected a 1-D uint16/uint32 token array, got {arr.dtype} {arr.shape}")
    return arr


class MixtureStream:
    """Batches (inputs_BT, targets_BT) for a mixture ``{component: (weight, token file)}``.

    Components with weight 0 are skipped; weights are renormalised. The same seed gives the same
    stream; ``tokens_by_component`` counts the training tokens each component supplied so far.
    """

    def __init__(self, components: dict[str, tuple[float, str]], *, seq_len: int, batch_size: int, seed: int):
        used = {name: (float(w), path) for name, (w, path) in sorted(components.items()) if w > 0}
        if not used:
            raise ValueError("mixture has no component with a positive weight")
        total = sum(w for w, _ in used.values())
        self.names = list(used)
        self.weights = np.array([used[n][0] / total for n in self.names])
        self.arrays = [load_tokens(used[n][1]) for n in self.names]
        self.seq_len, self.batch_size = seq_len, batch_size
        self.rng = np.random.default_rng(seed)
        self.credit = np.zeros(len(self.names))
        self.tokens_by_component = dict.fromkeys(self.names, 0)

    def _allocate(self) -> np.ndarray:
        """Windows per component for the next batch (sums to batch_size)."""
        self.credit += self.weights * self.batch_size
        counts = np.floor(self.credit).astype(np.int64)
        short = self.batch_size - counts.sum()
        if short > 0:  # the largest fractional credits take the remaining slots (stable order on ties)
            order = np.argsort(-(self.credit - counts), kind="stable")
            counts[order[:short]] += 1
        self.credit -= counts
        return counts

    def _window(self, arr: np.ndarray) -> np.ndarray:
        n = self.seq_len + 1
        if len(arr) <= n:  # a component shorter than one window repeats itself
            return np.resize(np.asarray(arr), n)
        start = int(self.rng.integers(0, len(arr) - n + 1))
        return np.asarray(arr[start:start + n])

    def next_batch(self, device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
        rows = []
        for i, count in enumerate(self._allocate()):
            for _ in range(count):
                rows.append(self._window(self.arrays[i]).astype(np.int64))
            self.tokens_by_component[self.names[i]] += int(count) * self.seq_len
        batch = torch.from_numpy(np.stack(rows))
        # pin + non_blocking only matter on CUDA; on CPU this is a no-op copy
        batch = batch.to(device, non_blocking=True)
        return batch[:, :-1], batch[:, 1:]
