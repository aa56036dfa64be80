"""Honest timing: warm-up, synchronisation, interleaved A/B repeats, medians and spread."""
import statistics
import time
from typing import Callable, Dict, List, Optional

import torch


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def reset_peak_memory(device: torch.device) -> None:
    """Start a fresh peak-memory window (CUDA allocator, or the process RSS high-water mark on Linux)."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    else:
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")  # resets VmHWM
        except OSError:
            pass


def peak_memory_mb(device: torch.device) -> Optional[float]:
    """Peak memory since ``reset_peak_memory``: CUDA allocated, or the CPU process's peak RSS."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return _proc_status_mb("VmHWM:")


def _proc_status_mb(field: str) -> Optional[float]:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def current_memory_mb(device: torch.device) -> Optional[float]:
    """Memory in use now: CUDA allocated, or the CPU process's RSS."""
    if device.type == "cuda":
        return torch.cuda.memory_allocated(device) / 2**20
    return _proc_status_mb("VmRSS:")


def time_once(fn: Callable[[], object], device: torch.device) -> float:
    synchronize(device)
    start = time.perf_counter()
    fn()
    synchronize(device)
    return time.perf_counter() - start


def interleaved(fns: Dict[str, Callable[[], object]], device: torch.device, warmup: int = 2,
                repeats: int = 5) -> Dict[str, List[float]]:
    """Seconds per call of each function, run A, B, A, B, ... after ``warmup`` calls each."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            times[name].append(time_once(fn, device))
    return times


def summarize(seconds: List[float]) -> Dict[str, float]:
    """Median and spread (min, max) of repeated timings."""
    return dict(median_s=statistics.median(seconds), min_s=min(seconds), max_s=max(seconds))


def matmul_peak_tflops(device: torch.device, dtype: torch.dtype = torch.float32, n: Optional[int] = None,
                       repeats: int = 5) -> float:
    """Measured dense matmul throughput in TFLOP/s (2 n^3 per n x n matmul), median of repeats."""
    n = n or (8192 if device.type == "cuda" else 2048)
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(2):
        a @ b
    seconds = [time_once(lambda: a @ b, device) for _ in range(repeats)]
    return 2 * n**3 / statistics.median(seconds) / 1e12
