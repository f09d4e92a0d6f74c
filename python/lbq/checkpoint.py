"""`lbq import`: turn an existing PyTorch checkpoint into an lbq moment file (docs/import.md).

    lbq import ckpt.pt -o moments.h5                       nanoGPT / llm.c style torch.save dict
    lbq import checkpoint-500/ -o moments.h5               Hugging Face Trainer checkpoint directory
    lbq import optimizer.pt --model model.pt -o moments.h5 separate optimizer and model state dicts

or, without the lbq binary:  PYTHONPATH=<repo>/python /usr/bin/python3 -m lbq.checkpoint ...

An optimizer state dict has integer indices, not names.  The names come from the model state dict:
the parameters in their registration order (buffers, integer tensors and the second name of a tied
weight left out), grouped as the optimizer grouped them under one of the rules below, and checked
shape by shape against every exp_avg.  A rule fits when each optimizer group's parameters are, in
order, the rule's group with at most some parameters left out (frozen ones), and that can happen in
exactly one way:

  all      one group: every parameter in order            (torch.optim.AdamW(model.parameters()))
  nanogpt  two groups: dim >= 2 (decayed), then dim < 2   (nanoGPT / llm.c configure_optimizers)
  hf       two groups: decayed, then not decayed; not decayed = "bias" in the name or a LayerNorm-like
           module (a path component containing "norm", or named ln, ln_*, ln<digits>)
           (Hugging Face Trainer's default AdamW)
  hf-bias  two groups: no "bias" in the name, then "bias" (older Trainers exempt only nn.LayerNorm
           modules, so an RMSNorm model's norm weights are decayed there)

Refused with one line naming the first mismatch when no rule fits, or naming the ambiguous index
when a rule fits in more than one way or two rules disagree; `--names FILE` (one name per optimizer
index) or `--order FILE` (the model's parameter names in order) resolve it.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import re
import sys
import types
from typing import Dict, List, Optional, Sequence, Tuple

EXIT_USAGE, EXIT_INPUT, EXIT_OUTPUT, EXIT_FAIL = 2, 3, 4, 1

MODEL_KEYS = ("model", "model_state_dict", "state_dict", "model_state", "net", "module")
OPTIM_KEYS = ("optimizer", "optimizer_state_dict", "optim", "optimizer_state", "opt")
# names of tensors that are buffers, not parameters (BatchNorm statistics); left out of the order
BUFFER_LEAVES = ("running_mean", "running_var", "num_batches_tracked")
RULES = ("all", "nanogpt", "hf", "hf-bias")
HF_MODEL_FILES = ("model.safetensors", "pytorch_model.bin", "model.safetensors.index.json",
                  "pytorch_model.bin.index.json")


class ImportError_(Exception):
    """One line for the user and an exit code."""

    def __init__(self, msg: str, code: int = EXIT_INPUT):
        super().__init__(msg)
        self.code = code


def _shape(s) -> str:
    return "[" + ", ".join(str(int(d)) for d in s) + "]"


# ---- loading torch files without running arbitrary pickled code ------------------------------------

_SAFE_GLOBALS = {
    ("collections", "OrderedDict"), ("collections", "defaultdict"),
    ("torch._utils", "_rebuild_tensor"), ("torch._utils", "_rebuild_tensor_v2"),
    ("torch._utils", "_rebuild_parameter"), ("torch._utils", "_rebuild_parameter_with_state"),
    ("torch", "Size"), ("torch", "device"), ("torch", "float32"), ("torch", "bfloat16"), ("torch", "float16"),
    ("builtins", "set"), ("builtins", "frozenset"), ("builtins", "slice"), ("builtins", "complex"),
    ("numpy.core.multiarray", "scalar"), ("numpy.core.multiarray", "_reconstruct"), ("numpy", "dtype"),
    ("numpy", "ndarray"), ("numpy._core.multiarray", "scalar"), ("numpy._core.multiarray", "_reconstruct"),
    ("_codecs", "encode"),
}


class _RestrictedUnpickler(pickle.Unpickler):
    """Only plain data, tensors and storages (torch's own wrapper handles the storage classes)."""

    def find_class(self, module, name):
        if (module, name) in _SAFE_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to unpickle '{module}.{name}'")


def _restricted_pickle_module():
    m = types.ModuleType("lbq_restricted_pickle")
    m.Unpickler = _RestrictedUnpickler
    m.load = lambda f, **kw: _RestrictedUnpickler(f, **kw).load()
    m.loads = pickle.loads
    m.__name__ = "lbq_restricted_pickle"
    return m


def _sniff(path: str) -> str:
    """'dir', 'hdf5', 'safetensors', 'zip', 'pickle' or 'unknown' from the first bytes."""
    if os.path.isdir(path):
        return "dir"
    with open(path, "rb") as f:
        head = f.read(16)
    if head.startswith(b"\x89HDF\r\n\x1a\n"):
        return "hdf5"
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    if head[:1] == b"\x80":
        return "pickle"
    if len(head) >= 9 and head[8:9] == b"{":
        return "safetensors"
    return "unknown"


def _check_readable(path: str, what: str = "") -> None:
    if not os.path.exists(path):
        raise ImportError_(f"{path}: No such file or directory")
    if not os.path.isdir(path) and not os.access(path, os.R_OK):
        raise ImportError_(f"{path}: Permission denied")


def torch_load(path: str, trust_pickle: bool = False):
    """torch.load on the CPU; memory-mapped where torch allows (>= 2.1, zip files), else the whole
    file is read (docs/import.md, "Memory").  Only plain data and tensors are unpickled unless
    trust_pickle."""
    _check_readable(path)
    kind = _sniff(path)
    if kind == "hdf5":
        raise ImportError_(f"{path}: is an HDF5 file (already a moment file? use 'lbq inspect {path}')")
    if kind == "safetensors":
        raise ImportError_(f"{path}: is a safetensors file, which holds a model but no optimizer state "
                           f"(give it as --model)")
    if kind not in ("zip", "pickle"):
        raise ImportError_(f"{path}: not a PyTorch checkpoint (torch.save writes a zip or pickle file)")
    import inspect
    import torch
    params = inspect.signature(torch.load).parameters
    kw = dict(map_location="cpu")
    if not trust_pickle:
        kw["pickle_module"] = _restricted_pickle_module()
        if "weights_only" in params:
            kw["weights_only"] = False       # our own restricted unpickler instead (1.13's refuses floats)
    elif "weights_only" in params:
        kw["weights_only"] = False
    if "mmap" in params and kind == "zip":
        kw["mmap"] = True
    try:
        return torch.load(path, **kw)
    except pickle.UnpicklingError as e:
        if "refusing to unpickle" in str(e):
            raise ImportError_(f"{path}: {e} (lbq import loads only tensors and plain data; if you trust "
                               f"the file, add --trust-pickle)") from None
        raise ImportError_(f"{path}: not a readable PyTorch checkpoint ({e})") from None
    except (RuntimeError, EOFError, OSError, ValueError, KeyError, AttributeError, ImportError) as e:
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ImportError_(f"{path}: not a readable PyTorch checkpoint ({msg})") from None


# ---- model state dicts ------------------------------------------------------------------------------

class ModelTensors:
    """The model's tensors by name, in the model's order when known (torch files keep it; a
    safetensors file does not), read one at a time where the source allows."""

    def __init__(self, path: str, names: List[str], shapes: Dict[str, Tuple[int, ...]], getter,
                 ordered: bool, ties: Dict[str, str], dtypes: Dict[str, str]):
        self.path, self.names, self.shapes, self._get = path, names, shapes, getter
        self.ordered, self.ties, self.dtypes = ordered, ties, dtypes

    def get(self, name: str):
        return self._get(name)


def _strip_prefix(name: str) -> str:
    return name[len("_orig_mod."):] if name.startswith("_orig_mod.") else name


def model_from_state_dict(sd, path: str) -> ModelTensors:
    import torch
    names, shapes, dtypes, ties, tensors = [], {}, {}, {}, {}
    first_by_storage: Dict[tuple, str] = {}
    for raw, t in sd.items():
        if not isinstance(t, torch.Tensor):
            continue
        name = _strip_prefix(str(raw))
        if not t.is_floating_point() or name.rsplit(".", 1)[-1] in BUFFER_LEAVES:
            continue
        key = None
        if t.numel() > 0:
            key = (t.data_ptr(), t.dtype, tuple(t.shape), tuple(t.stride()))
            if key in first_by_storage:          # a tied weight: one parameter, its first name
                ties[name] = first_by_storage[key]
                continue
            first_by_storage[key] = name
        names.append(name)
        shapes[name] = tuple(t.shape)
        dtypes[name] = str(t.dtype).replace("torch.", "")
        tensors[name] = t
    return ModelTensors(path, names, shapes, tensors.__getitem__, True, ties, dtypes)


def model_from_safetensors(paths: Sequence[str]) -> ModelTensors:
    from .safetensors import DTYPES, SafetensorsError, SafetensorsFile
    files, names, shapes, dtypes, where = [], [], {}, {}, {}
    for p in paths:
        _check_readable(p)
        try:
            f = SafetensorsFile(p)
        except SafetensorsError as e:
            raise ImportError_(str(e)) from None
        files.append(f)
        for k in f.keys():
            info = f.info(k)
            name = _strip_prefix(k)
            if DTYPES[info["dtype"]][2] not in ("float32", "float16", "bfloat16", "float64"):
                continue
            if name.rsplit(".", 1)[-1] in BUFFER_LEAVES:
                continue
            names.append(name)
            shapes[name] = tuple(info["shape"])
            dtypes[name] = DTYPES[info["dtype"]][2]
            where[name] = (f, k)
    return ModelTensors(",".join(paths), names, shapes, lambda n: where[n][0].get_tensor(where[n][1]),
                        False, {}, dtypes)


def load_model(path: str, key: Optional[str], trust: bool) -> ModelTensors:
    """A model state dict from a torch file (a state dict, or a dict holding one under `key` or a
    common key), a safetensors file, or an HF index json of shards."""
    _check_readable(path)
    if path.endswith(".index.json"):
        try:
            with open(path) as f:
                wm = json.load(f)["weight_map"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ImportError_(f"{path}: not a sharded-checkpoint index ({e})") from None
        d = os.path.dirname(path)
        shards = sorted(set(wm.values()))
        if all(s.endswith(".safetensors") for s in shards):
            m = model_from_safetensors([os.path.join(d, s) for s in shards])
            m.path = path
            return m
        sd = {}
        for s in shards:
            sd.update(torch_load(os.path.join(d, s), trust))
        m = model_from_state_dict(sd, path)
        m.ordered = False      # shard files split the order; only the index's sorted keys join them
        return m
    if _sniff(path) == "safetensors":
        return model_from_safetensors([path])
    obj = _as_dict(torch_load(path, trust))
    sd = _pick(obj, key, MODEL_KEYS, "--model-key", path, "model state dict") if not _is_state_dict(obj) else obj
    return model_from_state_dict(sd, path)


def _is_state_dict(obj) -> bool:
    import torch
    return isinstance(obj, dict) and len(obj) > 0 and all(isinstance(v, torch.Tensor) for v in obj.values())


def _is_optim_dict(obj) -> bool:
    return isinstance(obj, dict) and "state" in obj and "param_groups" in obj


def _as_dict(x):
    """A module or optimizer saved whole (torch.save(model), with --trust-pickle): its state dict."""
    sd = getattr(x, "state_dict", None)
    return sd() if callable(sd) and not isinstance(x, dict) else x


def _pick(obj, key, candidates, opt, path, what):
    return _as_dict(_pick_raw(obj, key, candidates, opt, path, what))


def _pick_raw(obj, key, candidates, opt, path, what):
    if not isinstance(obj, dict):
        raise ImportError_(f"{path}: holds a {type(obj).__name__}, not a dict with a {what}")
    if key is not None:
        if key not in obj:
            raise ImportError_(f"{path}: no key '{key}' ({opt}); its keys: {', '.join(map(str, obj))}")
        return obj[key]
    for k in candidates:
        if k in obj:
            return obj[k]
    raise ImportError_(f"{path}: no {what} under the usual keys ({', '.join(candidates)}); its keys: "
                       f"{', '.join(map(str, obj))} (name it with {opt})")


# ---- naming the optimizer's indices --------------------------------------------------------------

_NORM_RE = re.compile(r"norm|^ln$|^ln_|^ln\d+$", re.IGNORECASE)


def hf_decayed(name: str) -> bool:
    """The hf rule: not decayed = 'bias' in the name, or a module path component that is
    LayerNorm-like (contains 'norm', or is ln / ln_* / ln<digits>)."""
    if "bias" in name:
        return False
    return not any(_NORM_RE.search(c) for c in name.split(".")[:-1])


def rule_groups(rule: str, names: List[str], shapes: Dict[str, tuple]) -> List[List[str]]:
    if rule == "all":
        return [list(names)]
    if rule == "nanogpt":
        return [[n for n in names if len(shapes[n]) >= 2], [n for n in names if len(shapes[n]) < 2]]
    if rule == "hf":
        return [[n for n in names if hf_decayed(n)], [n for n in names if not hf_decayed(n)]]
    if rule == "hf-bias":
        return [[n for n in names if "bias" not in n], [n for n in names if "bias" in n]]
    raise ValueError(rule)


def _embed(entries, cands, shapes):
    """Count (saturating at 2) the ways to match entries [(index, shape or None)] in order to a
    subsequence of cands with equal shapes; return (ways, leftmost, rightmost, k) where k is the
    length of the longest embeddable prefix."""
    n, m = len(entries), len(cands)

    def ok(i, j):
        s = entries[i][1]
        return s is None or tuple(s) == shapes[cands[j]]

    # ways[i][j]: embeddings of entries[:i] into cands[:j]
    ways = [[1] * (m + 1)] + [[0] * (m + 1) for _ in range(n)]
    for i in range(1, n + 1):
        row, prev = ways[i], ways[i - 1]
        for j in range(i, m + 1):
            w = row[j - 1] + (prev[j - 1] if ok(i - 1, j - 1) else 0)
            row[j] = 2 if w > 2 else w
    total = ways[n][m]
    k = max(i for i in range(n + 1) if ways[i][m] > 0)
    left = right = None
    if total:
        # leftmost: greedy earliest match that still leaves room for the rest (suffix feasibility)
        suf = [[0] * (m + 2) for _ in range(n + 1)]       # suf[i][j]: entries[i:] embeddable in cands[j:]
        for j in range(m + 1):
            suf[n][j] = 1
        for i in range(n - 1, -1, -1):
            for j in range(m - 1, -1, -1):
                suf[i][j] = 1 if suf[i][j + 1] or (ok(i, j) and suf[i + 1][j + 1]) else 0
        left, j = [], 0
        for i in range(n):
            while not (ok(i, j) and suf[i + 1][j + 1]):
                j += 1
            left.append(j)
            j += 1
        right, j = [], m - 1
        for i in range(n - 1, -1, -1):
            while not (ok(i, j) and ways[i][j] > 0):
                j -= 1
            right.append(j)
            j -= 1
        right.reverse()
    return total, left, right, k


class Mapping_:
    def __init__(self, rule, names, skipped):
        self.rule, self.names, self.skipped = rule, names, skipped     # names: index -> name


def infer_names(opt_sd, model: ModelTensors, rules: Sequence[str], path: str) -> Mapping_:
    groups = opt_sd["param_groups"]
    state = opt_sd["state"]
    entries_by_group = []
    for g in groups:
        e = []
        for idx in g["params"]:
            st = state.get(idx) or {}
            ea = st.get("exp_avg")
            e.append((idx, tuple(ea.shape) if ea is not None else None))
        entries_by_group.append(e)
    fits, fails, ambiguous = [], [], []
    for rule in rules:
        rg = rule_groups(rule, model.names, model.shapes)
        if len(rg) != len(groups):
            fails.append((-1, rule, f"rule '{rule}' makes {len(rg)} group(s), the optimizer has {len(groups)}"))
            continue
        names, skipped, bad = {}, [], None
        done = 0
        for gi, (entries, cands) in enumerate(zip(entries_by_group, rg)):
            total, left, right, k = _embed(entries, cands, model.shapes)
            if total == 0:
                idx, shp = entries[k]
                # what the model has at that place: after the leftmost match of the prefix
                _, pl, _, _ = _embed(entries[:k], cands, model.shapes)
                j = (pl[-1] + 1) if pl else 0
                there = (f"the model's next parameter there is '{cands[j]}' {_shape(model.shapes[cands[j]])}"
                         if j < len(cands) else "the model has no parameter left there")
                bad = (done + k, rule, f"rule '{rule}': optimizer index {idx} (group {gi}) has shape "
                       f"{_shape(shp)}, {there}")
                break
            if total > 1:
                i = next(i for i in range(len(entries)) if left[i] != right[i])
                idx, shp = entries[i]
                ambiguous.append((rule, f"rule '{rule}': optimizer index {idx} (group {gi}, shape "
                                  f"{_shape(shp) if shp else 'unknown'}) could be '{cands[left[i]]}' or "
                                  f"'{cands[right[i]]}' (frozen parameters of the same shape leave the "
                                  f"order ambiguous)"))
                bad = ()
                break
            for (idx, _), j in zip(entries, left):
                names[idx] = cands[j]
            used = set(left)
            skipped += [c for j, c in enumerate(cands) if j not in used]
            done += len(entries)
        if bad is None:
            fits.append(Mapping_(rule, names, skipped))
        elif bad:
            fails.append(bad)
    if ambiguous:
        raise ImportError_(f"{path}: cannot name the optimizer states: {ambiguous[0][1]}; give --names FILE")
    if not fits:
        fails.sort(key=lambda x: -x[0])
        raise ImportError_(f"{path}: cannot name the optimizer states: no grouping rule fits the model "
                           f"({fails[0][2]}); give --names FILE")
    for other in fits[1:]:
        if other.names != fits[0].names:
            idx = next(i for i in fits[0].names if fits[0].names[i] != other.names.get(i))
            raise ImportError_(f"{path}: cannot name the optimizer states: rules '{fits[0].rule}' and "
                               f"'{other.rule}' both fit and name index {idx} '{fits[0].names[idx]}' vs "
                               f"'{other.names[idx]}'; choose one with --rule")
    if len(fits) > 1:
        fits[0].rule = "/".join(f.rule for f in fits)
    return fits[0]


def names_from_file(path: str, opt_sd, model: Optional[ModelTensors]) -> Mapping_:
    _check_readable(path)
    with open(path) as f:
        lines = [ln.strip() for ln in f if ln.strip() and not ln.lstrip().startswith("#")]
    order = [i for g in opt_sd["param_groups"] for i in g["params"]]
    if len(lines) != len(order):
        raise ImportError_(f"{path}: {len(lines)} names for {len(order)} optimizer indices (--names wants one "
                           f"name per index, in index order)")
    if len(set(lines)) != len(lines):
        dup = next(n for n in lines if lines.count(n) > 1)
        raise ImportError_(f"{path}: name '{dup}' given twice")
    names = {}
    for idx, n in zip(sorted(order), lines):
        st = opt_sd["state"].get(idx) or {}
        if model is not None and "exp_avg" in st:
            if n not in model.shapes:
                raise ImportError_(f"{path}: '{n}' (index {idx}) is not a parameter of the model")
            if tuple(st["exp_avg"].shape) != model.shapes[n]:
                raise ImportError_(f"{path}: '{n}' (index {idx}): optimizer shape {_shape(st['exp_avg'].shape)}, "
                                   f"model shape {_shape(model.shapes[n])}")
        names[idx] = n
    return Mapping_("names-file", names, [])


def apply_order(model: ModelTensors, path: str) -> None:
    _check_readable(path)
    with open(path) as f:
        order = [ln.strip() for ln in f if ln.strip() and not ln.lstrip().startswith("#")]
    order = [_strip_prefix(n) for n in order]
    missing = [n for n in order if n not in model.shapes]
    if missing:
        raise ImportError_(f"{path}: '{missing[0]}' (--order) is not a tensor of the model file {model.path}")
    model.names = order
    model.ordered = True


# ---- the import ------------------------------------------------------------------------------------

def _num(x) -> Optional[float]:
    """A hyper-parameter as a float (torch >= 2 may keep lr as a 0-d tensor); None if not a number."""
    try:
        return float(x.item() if hasattr(x, "item") else x) if x is not None and not isinstance(x, (str, bool)) else None
    except (TypeError, ValueError, RuntimeError):
        return None


def _step_of(st) -> Optional[int]:
    s = st.get("step")
    if s is None:
        return None
    try:
        return int(s.item()) if hasattr(s, "item") else int(s)
    except (TypeError, ValueError):
        return None


def locate(args):
    """(optimizer state dict, model or None, source format, trainer global_step or None)."""
    src = args.ckpt
    _check_readable(src)
    gstep = None
    if os.path.isdir(src):
        opath = os.path.join(src, "optimizer.pt")
        if not os.path.exists(opath):
            raise ImportError_(f"{src}: is a directory without optimizer.pt (not a Hugging Face Trainer "
                               f"checkpoint; give the optimizer file and --model)")
        ts = os.path.join(src, "trainer_state.json")
        if os.path.exists(ts):
            try:
                with open(ts) as f:
                    gstep = json.load(f).get("global_step")
            except (OSError, ValueError) as e:
                raise ImportError_(f"{ts}: unreadable trainer state ({e})") from None
        opt = torch_load(opath, args.trust_pickle)
        if not _is_optim_dict(opt):
            raise ImportError_(f"{opath}: not an optimizer state dict (no 'state' and 'param_groups')")
        mpath = args.model
        if mpath is None:
            for fn in ("pytorch_model.bin", "model.safetensors", "pytorch_model.bin.index.json",
                       "model.safetensors.index.json"):
                if os.path.exists(os.path.join(src, fn)):
                    mpath = os.path.join(src, fn)
                    break
        model = load_model(mpath, args.model_key, args.trust_pickle) if mpath else None
        if model is None and args.names is None:
            raise ImportError_(f"{src}: no model file ({', '.join(HF_MODEL_FILES)}); give --model or --names")
        return opt, model, "hf-trainer", gstep
    obj = torch_load(src, args.trust_pickle)
    if _is_optim_dict(obj):
        model = load_model(args.model, args.model_key, args.trust_pickle) if args.model else None
        if model is None and args.names is None:
            raise ImportError_(f"{src}: is an optimizer state dict alone; give the model state dict with "
                               f"--model FILE (or the names with --names FILE)")
        return obj, model, "state-dicts", None
    opt = _pick(obj, args.optim_key, OPTIM_KEYS, "--optim-key", src, "optimizer state dict")
    if not _is_optim_dict(opt):
        raise ImportError_(f"{src}: the optimizer entry is not an optimizer state dict (no 'state' and "
                           f"'param_groups')")
    if args.model:
        model = load_model(args.model, args.model_key, args.trust_pickle)
    else:
        model = model_from_state_dict(_pick(obj, args.model_key, MODEL_KEYS, "--model-key", src,
                                            "model state dict"), src)
    if isinstance(obj, dict):
        for k in ("iter_num", "step", "global_step"):
            if isinstance(obj.get(k), int):
                gstep = obj[k]
                break
    return opt, model, "torch-dict", gstep


def run(args, note) -> dict:
    from .moments import MomentWriter, dtype_name
    import torch
    # the output first: refuse before any work
    out = args.output
    if os.path.isdir(out):
        raise ImportError_(f"{out}: is a directory", EXIT_OUTPUT)
    od = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(od):
        raise ImportError_(f"{out}: No such file or directory", EXIT_OUTPUT)
    if not os.access(od, os.W_OK):
        raise ImportError_(f"{out}: Permission denied", EXIT_OUTPUT)
    for p in (args.ckpt, args.model):
        if p and os.path.exists(p) and os.path.exists(out) and os.path.samefile(p, out):
            raise ImportError_(f"{out}: is the input file; choose another output", EXIT_USAGE)

    opt, model, fmt, gstep = locate(args)
    state = opt["state"]
    groups = opt["param_groups"]
    order = [i for g in groups for i in g["params"]]
    with_state = [i for i in order if state.get(i)]
    if not with_state:
        raise ImportError_(f"{args.ckpt}: the optimizer has no state yet (no step taken)")
    keys0 = set(state[with_state[0]])
    if "exp_avg" not in keys0 or "exp_avg_sq" not in keys0:
        raise ImportError_(f"{args.ckpt}: optimizer state has {', '.join(sorted(map(str, keys0)))}, not "
                           f"exp_avg/exp_avg_sq (not an Adam-family optimizer)")
    if args.order:
        if model is None:
            raise ImportError_(f"{args.order}: --order needs a model file (--model)", EXIT_USAGE)
        apply_order(model, args.order)
    if args.names:
        mp = names_from_file(args.names, opt, model)
    else:
        if not model.ordered:
            raise ImportError_(f"{model.path}: does not record the parameters' order (safetensors files and "
                               f"shard indices sort their keys); give --order FILE (the names in "
                               f"model.named_parameters() order) or --names FILE")
        rules = [args.rule] if args.rule != "auto" else list(RULES)
        mp = infer_names(opt, model, rules, args.ckpt)
    for n, first in (model.ties.items() if model else ()):
        note(f"'{n}' is tied to '{first}' (one parameter, one optimizer state: named '{first}')")
    if mp.skipped:
        note(f"{len(mp.skipped)} model parameter(s) not in the optimizer (frozen?): "
             f"{', '.join(mp.skipped[:6])}{', ...' if len(mp.skipped) > 6 else ''}")
    g0 = groups[0]
    for k in ("betas", "eps"):
        if any(g.get(k) != g0.get(k) for g in groups[1:]):
            note(f"param groups differ in {k}; the file records group 0's {g0.get(k)!r}")
    betas = g0.get("betas", (0.9, 0.999))
    gi_of = {i: gi for gi, g in enumerate(groups) for i in g["params"]}
    steps, dtypes, nostate, extra_keys = [], {}, [], set()
    written = 0
    with MomentWriter(out, compression=args.compression) as w:
        for idx in order:
            st = state.get(idx)
            name = mp.names[idx]
            if not st:
                nostate.append(name)
                continue
            if "exp_avg" not in st or "exp_avg_sq" not in st:
                raise ImportError_(f"{args.ckpt}: optimizer index {idx} ('{name}') has no exp_avg/exp_avg_sq")
            m, v = st["exp_avg"], st["exp_avg_sq"]
            extra_keys |= set(st) - {"exp_avg", "exp_avg_sq", "step"}
            if tuple(m.shape) != tuple(v.shape):
                raise ImportError_(f"{args.ckpt}: '{name}': exp_avg {_shape(m.shape)} vs exp_avg_sq {_shape(v.shape)}")
            if m.dim() == 0:
                nostate.append(name)
                continue
            for t in (m, v):
                if not t.is_floating_point():
                    raise ImportError_(f"{args.ckpt}: '{name}': state dtype {t.dtype} is not a float "
                                       f"(a quantized optimizer's state? lbq import reads fp32/bf16/fp16 states)")
            p = None
            if model is not None and not args.no_param and name in model.shapes:
                p = model.get(name)
            w.add(name, m, v, param=p)
            gi = gi_of[idx]
            grp = w.f[name]
            grp.attrs["optimizer_index"] = idx
            grp.attrs["param_group"] = gi
            for k in ("lr", "weight_decay"):
                if _num(groups[gi].get(k)) is not None:
                    grp.attrs[k] = _num(groups[gi][k])
            dtypes[dtype_name(m)] = dtypes.get(dtype_name(m), 0) + 1
            s = _step_of(st)
            if s is not None:
                steps.append(s)
            written += 1
        if written == 0:
            raise ImportError_(f"{args.ckpt}: no parameter has an Adam state to import")
        step = max(steps) if steps else (gstep or 0)
        if steps and min(steps) != max(steps):
            note(f"per-parameter steps differ ({min(steps)}..{max(steps)}); the file records {step}")
        if gstep is not None and steps and gstep != step:
            note(f"checkpoint step {gstep} differs from the optimizer's step {step}; the file records {step}")
        lr = _num(g0.get("lr"))
        res = w.finish(step=step, beta1=_num(betas[0]), beta2=_num(betas[1]), eps=_num(g0.get("eps", 1e-8)),
                       lr=float("nan") if lr is None else lr,
                       weight_decay=_num(g0.get("weight_decay", 0.0)) or 0.0,
                       optimizer="Adam-family (from a state dict; class not recorded)",
                       source=args.source or f"lbq import {args.ckpt}",
                       extra={"import_format": fmt, "import_rule": mp.rule, "import_input": args.ckpt})
    if nostate:
        note(f"{len(nostate)} parameter(s) without optimizer state (no gradient yet) left out: "
             f"{', '.join(nostate[:6])}{', ...' if len(nostate) > 6 else ''}")
    if "max_exp_avg_sq" in extra_keys:
        note("max_exp_avg_sq (amsgrad) is not imported")
    if "float64" in dtypes:
        note(f"{dtypes['float64']} float64 state(s) rounded to float32")
    conv = ", ".join(f"{n} {d}" for d, n in sorted(dtypes.items()))
    res.update(rule=mp.rule, format=fmt, dtypes=dtypes)
    note(f"wrote {out} ({written} parameters, rule '{mp.rule}', step {step}; states: {conv}"
         f"{', converted exactly to float32' if set(dtypes) & {'bfloat16', 'float16'} else ''})")
    return res


def build_parser():
    ap = argparse.ArgumentParser(prog="lbq import", add_help=False,
                                 description="Convert a PyTorch checkpoint into an lbq moment file.")
    ap.add_argument("ckpt")
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--model")
    ap.add_argument("--model-key")
    ap.add_argument("--optim-key")
    ap.add_argument("--names")
    ap.add_argument("--order")
    ap.add_argument("--rule", choices=("auto",) + RULES, default="auto")
    ap.add_argument("--no-param", action="store_true")
    ap.add_argument("--compression", choices=("gzip",), default=None)
    ap.add_argument("--source")
    ap.add_argument("--trust-pickle", action="store_true")
    ap.add_argument("-q", "--quiet", action="store_true")
    ap.add_argument("-h", "--help", action="store_true")
    return ap


class _ArgError(Exception):
    pass


def main(argv=None) -> int:
    ap = build_parser()
    ap.error = lambda msg: (_ for _ in ()).throw(_ArgError(msg))     # one line, our format
    try:
        args = ap.parse_args(argv)
    except _ArgError as e:
        print(f"lbq import: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    if args.help:
        print(__doc__)
        return 0
    quiet = args.quiet

    def note(msg):
        if not quiet:
            print(f"lbq: {msg}", file=sys.stderr)
    try:
        run(args, note)
    except ImportError_ as e:
        print(f"lbq: error: {e}", file=sys.stderr)
        return e.code
    except ModuleNotFoundError as e:
        if e.name not in ("torch", "h5py", "numpy"):
            raise
        print(f"lbq: error: {sys.executable}: {e} ('lbq import' needs python3-torch and python3-h5py: "
              f"apt-get install python3-torch python3-h5py)", file=sys.stderr)
        return EXIT_FAIL
    except MemoryError:
        print("lbq: error: out of memory", file=sys.stderr)
        return EXIT_FAIL
    except OSError as e:
        print(f"lbq: error: {args.output}: {e.strerror or e}", file=sys.stderr)
        return EXIT_OUTPUT
    return 0


if __name__ == "__main__":
    sys.exit(main())
