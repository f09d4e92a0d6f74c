"""lbq.torch: lbq's quantizers inside a PyTorch training loop (fake quantization of Adam's states).

    import lbq
    q = lbq.torch.quantize_states(opt, recipe="lpmm4")          # or m=SPEC, v=SPEC, or plan="plan.json"
    for step in ...:
        loss.backward(); opt.step(); opt.zero_grad()            # exp_avg/exp_avg_sq now hold their qdq
        print(q.last["v"]["zeroed"])                            # per-step statistics

After every optimizer.step(), each parameter's exp_avg and exp_avg_sq are replaced by their
quantize-dequantize with lbq's quantizer (liblbq.so, bit for bit `lbq quantize`).  The step itself ran
on the fp32 states, so this is the trajectory of an optimizer that stores the codes (lpmm,
bitsandbytes and torchao dequantize, update in fp32 and quantize again): same bits for nearest
rounding; for stochastic rounding the random stream is lbq's (Philox, seeded per step and tensor).

Which tensors: with recipe=NAME the recipe's fp32 exemptions apply (a tensor it keeps in fp32 is left
alone; quantize_all=True ignores them); with m=/v= every state with that role is quantized (None: that
state stays fp32); with plan=, the plan's entry for the parameter's name (names from model= or
names=), parameters without an entry stay fp32.

Stochastic rounding: the seed of parameter k (its index in optimizer.state_dict() order) at step t
(Adam's own step count after the update, 1-based) is lbq_ffi_step_seed(seed + k, t), i.e. the bits
of `lbq quantize --seed <lbq.step_seed(seed + k, t)>`.

torch >= 2.0 uses Optimizer.register_step_post_hook; torch 1.13 wraps optimizer.step.  CUDA states
are quantized on their GPU when liblbq.so was built with CUDA (lbq.qdq's device entry, the current
stream), otherwise through host memory (a one-time warning saying why).
"""
from __future__ import annotations

import json
import math
import warnings

from . import _native

__all__ = ["quantize_states", "StateQuantizer", "load_plan"]


def load_plan(plan) -> dict:
    """{parameter name: {'m': spec or None, 'v': spec or None}} from a plan (path, JSON text or dict).

    Accepted forms (docs/binding.md):
      the plan of `lbq recommend ... -o PLAN` (schema lbq.plan/1: "params": [{"name", "m", "v", ...}])
      {"tensors": [{"name": N, "m": SPEC, "v": SPEC}, ...]}   (also under "plan" or "params")
      {N: {"m": SPEC, "v": SPEC}, ...}
    A spec "fp32", "none" or null keeps that state in fp32."""
    if isinstance(plan, str):
        if plan.lstrip().startswith("{"):
            plan = json.loads(plan)
        else:
            with open(plan) as f:
                plan = json.load(f)
    if not isinstance(plan, dict):
        raise ValueError("lbq: a plan is a JSON object")
    entries = None
    for key in ("tensors", "plan", "params"):
        if isinstance(plan.get(key), list):
            entries = plan[key]
            break
    out = {}
    if entries is not None:
        for e in entries:
            if not isinstance(e, dict) or "name" not in e:
                raise ValueError(f"lbq: plan entry {e!r} has no 'name'")
            out[e["name"]] = {"m": e.get("m"), "v": e.get("v")}
    else:
        for k, e in plan.items():
            if isinstance(e, dict):
                out[k] = {"m": e.get("m"), "v": e.get("v")}
    for k, e in out.items():
        for r in ("m", "v"):
            s = e[r]
            if s is not None and str(s).lower() in ("fp32", "none", ""):
                e[r] = None
    if not out:
        raise ValueError("lbq: the plan names no tensors")
    return out


def _no_fp32(spec):
    return None if spec is None or str(spec).lower() in ("fp32", "none", "") else spec


class StateQuantizer:
    """The handle quantize_states returns: statistics, and remove() to stop quantizing."""

    def __init__(self, optimizer, m=None, v=None, recipe=None, plan=None, model=None, names=None, seed=0,
                 quantize_all=False, keep_history=True, on_step=None):
        chosen = sum(x is not None for x in (recipe, plan)) + (m is not None or v is not None)
        if chosen != 1:
            raise ValueError("lbq.torch.quantize_states: give exactly one of m=/v= SPEC, recipe=NAME or plan=PLAN")
        self.optimizer = optimizer
        self.seed = int(seed)
        self.recipe = recipe
        self.quantize_all = quantize_all
        self.on_step = on_step
        self.keep_history = keep_history
        self.history = []           # per step: {"step", "m": totals, "v": totals}
        self.last = None            # the last step's statistics, per tensor included
        self._warned = set()
        self._steps = 0
        if recipe is not None:
            r = _native.recipe(recipe)
            self.m_spec, self.v_spec = r["m"], r["v"]
        else:
            self.m_spec, self.v_spec = _no_fp32(m), _no_fp32(v)
        self.plan = load_plan(plan) if plan is not None else None
        # parameter names (for plans and for the statistics)
        self.names = {}
        if model is not None:
            names = model.named_parameters()
        if names is not None:
            items = names.items() if isinstance(names, dict) else names
            for n, p in items:
                if isinstance(n, str):
                    self.names[id(p)] = n
                else:                       # {param: name}
                    self.names[id(n)] = p
        if self.plan is not None and not self.names:
            raise ValueError("lbq.torch.quantize_states: plan= needs parameter names (model= or names=)")
        # validate every spec now, before any training step
        for s, role in ((self.m_spec, "m"), (self.v_spec, "v")):
            if s is not None:
                _native.check(s, role, (4096,))
        if self.plan is not None:
            known = set(self.names.values())
            missing = [n for n in self.plan if n not in known]
            if missing:
                raise ValueError(f"lbq.torch.quantize_states: plan names {len(missing)} tensor(s) the model does not "
                                 f"have, e.g. '{missing[0]}'")
            for n, e in self.plan.items():
                for role in ("m", "v"):
                    if e[role] is not None:
                        _native.check(e[role], role, (4096,))
        self._install()

    # ---- hook installation ----
    def _install(self):
        opt = self.optimizer
        if hasattr(opt, "register_step_post_hook"):       # torch >= 2.0
            self._handle = opt.register_step_post_hook(lambda o, args, kwargs: self.apply())
            self._orig_step = None
        else:                                             # torch 1.13: wrap the bound step
            import types
            orig = opt.step
            me = self

            def step(_opt, *args, **kwargs):
                out = orig(*args, **kwargs)
                me.apply()
                return out
            step.__wrapped__ = orig
            if getattr(orig, "_with_counter", False):   # a scheduler's counting wrapper stays inside ours
                step._with_counter = True
            # a bound method, as torch 1.13's LR schedulers expect of optimizer.step (they wrap it
            # through __self__/__func__, before or after this call)
            opt.step = types.MethodType(step, opt)
            self._orig_step = orig
            self._handle = None

    def remove(self):
        """Stop quantizing after steps (the states keep their last values)."""
        if self._handle is not None:
            self._handle.remove()
            self._handle = None
        elif self._orig_step is not None:
            self.optimizer.step = self._orig_step
            self._orig_step = None

    # ---- the work of one step ----
    def specs_for(self, p):
        """(m spec or None, v spec or None) for parameter p."""
        if self.plan is not None:
            e = self.plan.get(self.names.get(id(p)))
            return (e["m"], e["v"]) if e else (None, None)
        if self.recipe is not None and not self.quantize_all and _native.keeps_fp32(self.recipe, p.numel()):
            return None, None
        return self.m_spec, self.v_spec

    def _warn_once(self, key, msg):
        if key not in self._warned:
            self._warned.add(key)
            warnings.warn(msg, RuntimeWarning, stacklevel=4)

    def apply(self):
        """Quantize-dequantize the states now (called after every optimizer.step())."""
        import torch
        from .quant import qdq
        self._steps += 1
        tensors = []
        tot = {r: {"numel": 0, "zeroed": 0, "lifted": 0, "nonfinite": 0, "zeros_in": 0, "sum_sq_err": 0.0,
                   "sum_sq": 0.0, "tensors": 0, "fp32_tensors": 0} for r in ("m", "v")}
        k = -1
        found = 0
        step_no = None
        for group in self.optimizer.param_groups:
            for p in group["params"]:
                k += 1
                st = self.optimizer.state.get(p)
                if not st or "exp_avg" not in st or "exp_avg_sq" not in st:
                    continue
                found += 1
                s = st.get("step", None)
                t = int(s.item() if torch.is_tensor(s) else s) if s is not None else self._steps
                step_no = t if step_no is None else max(step_no, t)
                specs = self.specs_for(p)
                for role, key, spec in (("m", "exp_avg", specs[0]), ("v", "exp_avg_sq", specs[1])):
                    x = st[key]
                    if spec is None:
                        tot[role]["fp32_tensors"] += 1
                        continue
                    if x.device.type != "cpu" and not (x.device.type == "cuda" and _native.device_available()[0]):
                        why = _native.device_available()[1] if x.device.type == "cuda" else "not CUDA memory"
                        self._warn_once("device", f"lbq.torch: {x.device} optimizer states are quantized through "
                                        f"host memory ({why})")
                    _, d = qdq(x, spec, role=role, seed=self.seed + k, step=t, inplace=True, stats=True)
                    d.pop("code_hist", None)
                    d.update(name=self.names.get(id(p), f"param{k}"), role=role, index=k)
                    tensors.append(d)
                    a = tot[role]
                    for f in ("numel", "zeroed", "lifted", "nonfinite", "zeros_in", "sum_sq_err", "sum_sq"):
                        a[f] += d[f]
                    a["tensors"] += 1
        if not found:
            self._warn_once("nostate", "lbq.torch: the optimizer has no exp_avg/exp_avg_sq states (not Adam-like?); "
                            "nothing was quantized")
        for a in tot.values():
            a["rel_l2"] = math.sqrt(a["sum_sq_err"] / a["sum_sq"]) if a["sum_sq"] > 0 else 0.0
        rec = {"step": step_no if step_no is not None else self._steps, "m": tot["m"], "v": tot["v"]}
        self.last = dict(rec, tensors=tensors)
        if self.keep_history:
            self.history.append(rec)
        if self.on_step is not None:
            self.on_step(self.last)
        return self.last


def quantize_states(optimizer, m=None, v=None, recipe=None, plan=None, model=None, names=None, seed=0,
                    quantize_all=False, keep_history=True, on_step=None) -> StateQuantizer:
    """Replace exp_avg/exp_avg_sq by their lbq quantize-dequantize after every optimizer.step().

    m, v: quantizer specs (e.g. "block2048-dtree:b4", "block128-linear:b4:nz"; None keeps fp32);
    recipe: a published recipe (lpmm4, bnb8, torchao4, solo42, coat) with its fp32 exemptions;
    plan: a plan file/dict with per-tensor specs (needs model= or names=);
    seed: base seed of stochastic rounding; on_step: called with each step's statistics.
    Returns a StateQuantizer (.last, .history, .remove())."""
    return StateQuantizer(optimizer, m=m, v=v, recipe=recipe, plan=plan, model=model, names=names, seed=seed,
                          quantize_all=quantize_all, keep_history=keep_history, on_step=on_step)
