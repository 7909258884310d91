"""onnxruntime sessions for a bundle's three graphs, and KV-cached decoding over them.

Providers: ``auto`` takes TensorRT, then CUDA, then CPU from what onnxruntime offers
(warning when it settles for less than TensorRT); a named provider that is not offered is
a one-line error listing those that are. TensorRT gets INT8 (QDQ bundles) and FP16 flags,
engine and timing caches in a cache directory, and shape profiles from the bundle's
bucket. The decoder always runs through IOBinding: on GPU providers the KV cache stays on
the device between steps, and on the CPU the same code path is exercised.
onnxruntime is imported here only, and only when an engine is made.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vtedge.bundle import GRAPH_INPUTS, GRAPHS, Bundle
from vtedge.errors import BundleError, ProviderError, first_line

PROVIDERS = {
    "tensorrt": "TensorrtExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "cpu": "CPUExecutionProvider",
}
AUTO_ORDER = ("tensorrt", "cuda", "cpu")
CHOICES = ("auto", *AUTO_ORDER)
DEFAULT_CACHE = Path.home() / ".cache" / "vtedge" / "tensorrt"


def available_providers() -> list[str]:
    import onnxruntime

    return list(onnxruntime.get_available_providers())


def _short(names: list[str]) -> str:
    return ", ".join(name.removesuffix("ExecutionProvider") for name in names) or "none"


def resolve_provider(requested: str, available: list[str], bundle: Bundle | None = None,
                     warn: Callable[[str], None] | None = None) -> str:
    """The provider to run on (a key of ``PROVIDERS``), or a ``ProviderError``.

    Dynamic-INT8 bundles (``cpu`` target) use ONNX Runtime's integer ops, which TensorRT
    cannot parse, so ``auto`` passes TensorRT over for them.
    """
    if requested not in CHOICES:
        raise ProviderError(f"unknown provider {requested!r}; choose one of {', '.join(CHOICES)}")
    if requested != "auto":
        if PROVIDERS[requested] not in available:
            raise ProviderError(
                f"provider {requested!r} is not available in this onnxruntime; "
                f"available: {_short(available)}"
            )
        return requested
    dynamic = bundle is not None and bundle.quantization.get("method") == "dynamic"
    for name in AUTO_ORDER:
        if PROVIDERS[name] in available and not (name == "tensorrt" and dynamic):
            # Say why a GPU machine runs on less than TensorRT; a CPU-only onnxruntime
            # has nothing else to offer, so silence there.
            gpu = PROVIDERS["tensorrt"] in available or PROVIDERS["cuda"] in available
            if name != "tensorrt" and gpu and warn is not None:
                why = "the bundle is dynamic INT8 (CPU target)" if dynamic and \
                    PROVIDERS["tensorrt"] in available else "TensorRT is not available"
                warn(f"{why}; running on {name.upper() if name == 'cpu' else 'CUDA'} "
                     f"(onnxruntime offers: {_short(available)})")
            return name
    raise ProviderError(f"no usable provider; onnxruntime offers: {_short(available)}")


def _shape(dims: dict[str, tuple[int, ...]]) -> str:
    return ",".join(f"{name}:{'x'.join(map(str, shape))}" for name, shape in dims.items())


def tensorrt_profiles(bundle: Bundle, graph: str) -> dict[str, str]:
    """Min/opt/max shape profiles for one graph from the bundle's bucket."""
    config, bucket = bundle.manifest["model_config"], bundle.bucket
    kv, dim = config["num_key_value_heads"], config["head_dim"]
    hidden, longest = config["hidden_size"], bucket["max_sequence_length"]
    prompt = bucket["prompt_tokens"]
    if graph == "vision_encoder":
        temporal, height, width = bucket["grid_thw"]
        # An fps bucket's clips range from one temporal patch to its longest.
        fewest = temporal if bucket.get("nframes") is not None else 1
        shapes = [{"pixel_values": (t * height * width, bundle.spec.patch_dim)}
                  for t in (fewest, temporal, temporal)]
    elif graph == "embed_tokens":
        shapes = [{"input_ids": (1, n)} for n in (1, prompt, longest)]
    else:
        shapes = []
        for step, past in ((1, 0), (prompt, 0), (longest, longest)):
            dims = {"inputs_embeds": (1, step, hidden), "attention_mask": (1, past + step),
                    "position_ids": (3, 1, step)}
            for i in range(config["num_hidden_layers"]):
                for kind in ("key", "value"):
                    dims[f"past_key_values.{i}.{kind}"] = (1, kv, past, dim)
            shapes.append(dims)
    return {f"trt_profile_{which}_shapes": _shape(dims)
            for which, dims in zip(("min", "opt", "max"), shapes, strict=True)}


def provider_list(name: str, bundle: Bundle, graph: str, cache_dir: Path) -> list:
    """onnxruntime's ``providers`` argument for one graph on provider ``name``."""
    cpu = PROVIDERS["cpu"]
    if name == "cpu":
        return [cpu]
    if name == "cuda":
        return [(PROVIDERS["cuda"], {}), cpu]
    cache = cache_dir / bundle.manifest["files"][bundle.manifest["graphs"][graph]]["sha256"][:16]
    options = {
        "trt_fp16_enable": True,
        # QDQ bundles carry their own scales: INT8 without a calibration table.
        "trt_int8_enable": bundle.quantization.get("method") == "static-qdq",
        "trt_engine_cache_enable": True,
        "trt_engine_cache_path": str(cache),
        "trt_timing_cache_enable": True,
        "trt_timing_cache_path": str(cache_dir),
        **tensorrt_profiles(bundle, graph),
    }
    return [(PROVIDERS["tensorrt"], options), (PROVIDERS["cuda"], {}), cpu]


@dataclass
class Generation:
    """Tokens a decoding produced and where the time went (seconds)."""

    tokens: list[int]
    prefill_s: float
    decode_s: float
    stopped: bool = False
    extra: dict = field(default_factory=dict)

    @property
    def tokens_per_s(self) -> float:
        steps = max(len(self.tokens) - 1, 0)
        return steps / self.decode_s if self.decode_s > 0 else 0.0


def next_token(logits: np.ndarray, temperature: float, top_p: float,
               rng: np.random.Generator) -> int:
    """Greedy when ``temperature`` is 0, else nucleus sampling as transformers does it."""
    if not temperature or temperature <= 0:
        return int(np.argmax(logits))
    # Shift before dividing: a tiny temperature then sends the others to -inf, not inf - inf.
    shifted = logits.astype(np.float64)
    with np.errstate(over="ignore"):
        probs = np.exp((shifted - shifted.max()) / temperature)
    probs /= probs.sum()
    order = np.argsort(-probs, kind="stable")
    sorted_probs = probs[order]
    # Keep the smallest head whose mass reaches top_p (at least one token).
    keep = (np.cumsum(sorted_probs) - sorted_probs) < top_p
    keep[0] = True
    kept = sorted_probs[keep] / sorted_probs[keep].sum()
    return int(order[:keep.sum()][rng.choice(len(kept), p=kept)])


def _load_graph(onnxruntime, bundle: Bundle, graph: str, options, providers):
    """One graph's session; a file onnxruntime cannot load, or one that does not take the
    graph's input, is a bad bundle."""
    file = bundle.graph(graph)
    try:
        session = onnxruntime.InferenceSession(str(file), options, providers=providers)
    except Exception as error:  # onnxruntime raises its own classes, not exported by name
        raise BundleError(f"{bundle.path}: onnxruntime cannot load {file.name} "
                          f"({first_line(error)})") from None
    names = [i.name for i in session.get_inputs()]
    if GRAPH_INPUTS[graph] not in names:
        raise BundleError(f"{bundle.path}: {file.name} is not a {graph} graph (inputs "
                          f"{', '.join(names)})")
    return session


def _check_cache_layout(bundle: Bundle, decoder, layers: int, kv_shape: tuple[int, int]):
    """The decoder's KV-cache inputs are the manifest's layers x (heads, head_dim): the
    runtime builds the empty cache from the manifest, so a mismatch would fail mid-answer."""
    past = {i.name: i.shape for i in decoder.get_inputs()
            if i.name.startswith("past_key_values.")}
    expected = {f"past_key_values.{n}.{kind}" for n in range(layers) for kind in ("key", "value")}
    if set(past) != expected:
        raise BundleError(f"{bundle.path}: the decoder caches {len(past) // 2} layers, the "
                          f"manifest's model_config says {layers}")
    for name, shape in past.items():
        if len(shape) != 4 or any(type(d) is int and d != want
                                  for d, want in zip((shape[1], shape[3]), kv_shape,
                                                     strict=True)):
            raise BundleError(f"{bundle.path}: the decoder's {name} has shape {shape}, not "
                              f"(batch, {kv_shape[0]} heads, length, {kv_shape[1]}) as the "
                              "manifest's model_config says")


class Engine:
    """The three onnxruntime sessions of one bundle on one provider."""

    def __init__(self, bundle: Bundle, provider: str = "auto", cache_dir: str | Path | None = None,
                 threads: int | None = None, warn: Callable[[str], None] | None = None):
        import onnxruntime

        self.bundle = bundle
        warn = warn or (lambda message: warnings.warn(message, RuntimeWarning, stacklevel=3))
        available = available_providers()
        self.provider = resolve_provider(provider, available, bundle, warn)
        self.device = "cpu" if self.provider == "cpu" else "cuda"
        cache_dir = Path(cache_dir) if cache_dir else DEFAULT_CACHE
        if self.provider == "tensorrt":
            cache_dir.mkdir(parents=True, exist_ok=True)
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        if threads:
            options.intra_op_num_threads = threads
        self.sessions = {}
        for graph in GRAPHS:
            session = _load_graph(onnxruntime, bundle, graph, options,
                                  provider_list(self.provider, bundle, graph, cache_dir))
            if PROVIDERS[self.provider] not in session.get_providers():
                message = (f"{PROVIDERS[self.provider]} failed to start for {graph}; "
                           f"running on {_short(session.get_providers())}")
                if provider != "auto":
                    raise ProviderError(message)
                warn(message)
            self.sessions[graph] = session
        config = bundle.manifest["model_config"]
        self.layers = config["num_hidden_layers"]
        self.kv_shape = (config["num_key_value_heads"], config["head_dim"])
        _check_cache_layout(bundle, self.sessions["decoder_model_merged"], self.layers,
                            self.kv_shape)
        self._ortvalue = onnxruntime.OrtValue

    def encode_video(self, pixel_values: np.ndarray) -> np.ndarray:
        """``image_features`` (``(video_tokens, hidden)``) of a clip of the bucket's size."""
        session = self.sessions["vision_encoder"]
        return session.run(None, {"pixel_values": pixel_values.astype(np.float32)})[0]

    def embed(self, input_ids: np.ndarray) -> np.ndarray:
        session = self.sessions["embed_tokens"]
        ids = np.asarray(input_ids, dtype=np.int64).reshape(1, -1)
        return session.run(None, {"input_ids": ids})[0]

    def _decoder_step(self, embeds: np.ndarray, mask: np.ndarray, positions: np.ndarray,
                      past: list) -> tuple[np.ndarray, list]:
        """One decoder call through IOBinding; the cache stays where the provider keeps it."""
        session = self.sessions["decoder_model_merged"]
        binding = session.io_binding()
        to_device = self._ortvalue.ortvalue_from_numpy
        binding.bind_ortvalue_input("inputs_embeds", to_device(embeds, self.device, 0))
        binding.bind_ortvalue_input("attention_mask", to_device(mask, self.device, 0))
        binding.bind_ortvalue_input("position_ids", to_device(positions, self.device, 0))
        for i in range(self.layers):
            for j, kind in enumerate(("key", "value")):
                binding.bind_ortvalue_input(f"past_key_values.{i}.{kind}", past[2 * i + j])
        binding.bind_output("logits", "cpu")
        for i in range(self.layers):
            for kind in ("key", "value"):
                binding.bind_output(f"present.{i}.{kind}", self.device, 0)
        session.run_with_iobinding(binding)
        outputs = binding.get_outputs()
        return outputs[0].numpy(), outputs[1:]

    def generate(self, inputs_embeds: np.ndarray, position_ids: np.ndarray,
                 rope_deltas: np.ndarray, *, max_new_tokens: int, stop_ids: set[int],
                 temperature: float = 0.0, top_p: float = 1.0, seed: int = 0,
                 on_token: Callable[[int], None] | None = None,
                 suppress_ids: set[int] = frozenset()) -> Generation:
        """Prefill the prompt embeddings, then decode one token at a time (batch of one),
        never choosing a token of ``suppress_ids``."""
        from vtedge.mrope import decode_position_ids

        rng = np.random.default_rng(seed)
        length = inputs_embeds.shape[1]
        empty = np.zeros((1, *self.kv_shape[:1], 0, self.kv_shape[1]), dtype=np.float32)
        past = [self._ortvalue.ortvalue_from_numpy(empty, self.device, 0)
                for _ in range(2 * self.layers)]
        mask = np.ones((1, length), dtype=np.int64)
        start = time.perf_counter()
        logits, past = self._decoder_step(inputs_embeds.astype(np.float32), mask,
                                          position_ids.astype(np.int64), past)
        prefill_s = time.perf_counter() - start
        tokens: list[int] = []
        stopped = False
        start = time.perf_counter()
        banned = sorted(suppress_ids)
        for _ in range(max_new_tokens):
            step = logits[0, -1]
            if banned:
                step = step.copy()
                step[banned] = -np.inf
            token = next_token(step, temperature, top_p, rng)
            tokens.append(token)
            if on_token is not None:
                on_token(token)
            if token in stop_ids:
                stopped = True
                break
            if len(tokens) == max_new_tokens:
                break
            mask = np.ones((1, mask.shape[1] + 1), dtype=np.int64)
            positions = decode_position_ids(mask, rope_deltas)
            logits, past = self._decoder_step(self.embed(np.array([token])), mask, positions,
                                              past)
        return Generation(tokens, prefill_s, time.perf_counter() - start, stopped)
