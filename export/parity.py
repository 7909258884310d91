"""The parity gate: does the exported bundle compute what the torch model computes?

On each calibration clip, between torch and the bundle:
- ``logits_cosine`` and ``top1_agreement``: the prompt's logits at every position;
- ``greedy_agreement``: over torch's full greedy answer, the share of its tokens the
  bundle also picks greedily when given the same prefix (teacher-forced, so one early
  near-tie does not decide the whole answer);
- ``greedy_prefix``: the bundle's own free-running greedy answer, shared prefix / longer
  answer (fp32 must reproduce torch's answer exactly; for INT8 it is recorded).
The worst clip counts for cosine and the greedy measures. A bundle under the thresholds
of its precision fails the export unless forced.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

THRESHOLDS = {
    "fp32": {"logits_cosine": 0.9999, "top1_agreement": 0.99, "greedy_agreement": 0.99,
             "greedy_prefix": 1.0},
    "int8": {"logits_cosine": 0.99, "top1_agreement": 0.9, "greedy_agreement": 0.9},
}


@dataclass
class Reference:
    """What torch computed for one calibration prompt."""

    logits: np.ndarray  # (S, vocab)
    greedy: list[int]


@dataclass
class ParityResult:
    precision: str
    clips: int
    logits_cosine: float
    top1_agreement: float
    greedy_agreement: float
    greedy_prefix: float
    passed: bool
    thresholds: dict

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        verdict = "pass" if self.passed else "FAIL"
        return (f"{self.precision}: cosine {self.logits_cosine:.6f}, top-1 "
                f"{self.top1_agreement:.3f}, greedy {self.greedy_agreement:.3f} (prefix "
                f"{self.greedy_prefix:.3f}) over "
                f"{self.clips} clip(s): {verdict}")


def torch_reference(model, prompt, token_ids: dict[str, int], stop_ids: set[int],
                    max_new_tokens: int) -> Reference:
    import torch

    from vtedge.train.infer import plain_decoding

    ids = torch.from_numpy(prompt.input_ids)[None]
    inputs = dict(
        input_ids=ids, attention_mask=torch.ones_like(ids),
        mm_token_type_ids=(ids == token_ids["video_token_id"]).int() * 2,
        pixel_values_videos=torch.from_numpy(prompt.pixel_values),
        video_grid_thw=torch.tensor([list(prompt.clip.grid_thw)]),
        second_per_grid_ts=torch.tensor([prompt.clip.second_per_grid_t]),
    )
    with torch.no_grad():
        logits = model(**inputs).logits[0].float().numpy()
        model.model.rope_deltas = None
        output = model.generate(**inputs, do_sample=False, max_new_tokens=max_new_tokens,
                                eos_token_id=sorted(stop_ids), pad_token_id=min(stop_ids),
                                temperature=None, top_p=None,
                                **plain_decoding(token_ids))
    return Reference(logits, output[0, ids.shape[1]:].tolist())


def _prefill_logits(engine, input_ids, features, video_token_id, positions) -> np.ndarray:
    embeds = engine.embed(input_ids)
    embeds[0, input_ids == video_token_id] = features
    empty = np.zeros((1, engine.kv_shape[0], 0, engine.kv_shape[1]), dtype=np.float32)
    past = [engine._ortvalue.ortvalue_from_numpy(empty, engine.device, 0)
            for _ in range(2 * engine.layers)]
    mask = np.ones((1, len(input_ids)), dtype=np.int64)
    return engine._decoder_step(embeds, mask, positions, past)[0][0]


def bundle_outputs(runtime, prompt, stop_ids: set[int], max_new_tokens: int,
                   reference: Reference):
    """Prompt logits, a free-running greedy answer, and the teacher-forced greedy picks
    along ``reference.greedy``, from a ``BundleRuntime``'s engine; neither picks a vision
    placeholder, as neither ``ask`` nor the torch reference does."""
    from vtedge.mrope import rope_index
    from vtedge.runtime import vision_placeholder_ids

    engine, ids = runtime.engine, runtime.bundle.token_ids
    config = runtime.bundle.manifest["model_config"]
    video = ids["video_token_id"]
    features = engine.encode_video(prompt.pixel_values)
    logits = _prefill_logits(engine, prompt.input_ids, features, video, prompt.position_ids)
    embeds = engine.embed(prompt.input_ids)
    embeds[0, prompt.input_ids == video] = features
    banned = sorted(vision_placeholder_ids(ids))
    generation = engine.generate(embeds, prompt.position_ids, prompt.rope_deltas,
                                 max_new_tokens=max_new_tokens, stop_ids=stop_ids,
                                 suppress_ids=banned)
    answer = np.asarray(reference.greedy, dtype=np.int64)
    full = np.concatenate([prompt.input_ids, answer])
    positions, _ = rope_index(full[None], video, [prompt.clip.grid_thw],
                              [prompt.clip.second_per_grid_t], merge_size=config["merge_size"],
                              tokens_per_second=config["tokens_per_second"])
    forced = _prefill_logits(engine, full, features, video, positions)
    forced[:, banned] = -np.inf
    start = len(prompt.input_ids) - 1
    picks = forced[start:start + len(answer)].argmax(-1).tolist()
    return logits, generation.tokens, picks


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = a.astype(np.float64), b.astype(np.float64)
    return (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1) + 1e-30)


def greedy_agreement(reference: list[int], candidate: list[int]) -> float:
    longest = max(len(reference), len(candidate))
    if longest == 0:
        return 1.0
    shared = 0
    for a, b in zip(reference, candidate, strict=False):
        if a != b:
            break
        shared += 1
    return shared / longest


def compare(precision: str, references: list[Reference], outputs: list) -> ParityResult:
    """Worst-clip cosine and greedy measures, mean top-1 agreement over all positions."""
    cosines, top1, forced, prefix = [], [], [], []
    for reference, (logits, tokens, picks) in zip(references, outputs, strict=True):
        cosines.append(float(_cosine(reference.logits, logits).mean()))
        top1.append(reference.logits.argmax(-1) == logits.argmax(-1))
        agree = np.asarray(picks) == np.asarray(reference.greedy)
        forced.append(float(agree.mean()) if len(reference.greedy) else 1.0)
        prefix.append(greedy_agreement(reference.greedy, tokens))
    thresholds = THRESHOLDS[precision]
    result = ParityResult(precision, len(references), min(cosines),
                          float(np.concatenate(top1).mean()), min(forced), min(prefix), False,
                          thresholds)
    result.passed = all(getattr(result, key) >= value for key, value in thresholds.items())
    return result
