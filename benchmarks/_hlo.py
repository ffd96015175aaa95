"""Count the fusions (kernels, on a GPU) in the body of a compiled scan over steps.

A cheap, device-independent proxy for per-step overhead: on a memory-bound accelerator each
fusion is one kernel launch and usually one more pass over the state.
"""

import re


def loop_body_counts(hlo_text: str, carry_shape: str):
    """(fusions, reductions) in the body of the while loop whose carry holds `carry_shape`
    (e.g. 'f32[1000,100]'), counting computations reachable from the body once."""
    comps = {}
    for block in re.split(r'\n(?=\S)', hlo_text):
        m = re.match(r'(?:ENTRY )?%?([\w.\-]+) ', block)
        if m:
            comps[m.group(1)] = block
    bodies = []
    for block in comps.values():
        for m in re.finditer(r'= \(([^)]*)\) while\(.*?body=%?([\w.\-]+)', block):
            if carry_shape in m.group(1):
                bodies.append(m.group(2))
    if not bodies:
        return None
    # innermost loop over steps: the body with that carry that itself has no such while
    seen, stack = set(), [bodies[-1]]
    fus = red = 0
    while stack:
        c = stack.pop()
        if c in seen or c not in comps:
            continue
        seen.add(c)
        block = comps[c]
        fus += len(re.findall(r' fusion\(', block))
        red += len(re.findall(r' reduce\(', block))
        for m in re.finditer(r'(?:body|condition|to_apply|calls)=%?([\w.\-]+)', block):
            if not m.group(1).startswith('fused_') :
                stack.append(m.group(1))
    return fus, red


def compiled_counts(jitted, *args, carry_shape: str, **kwargs):
    """``loop_body_counts`` of ``jitted.lower(*args, **kwargs).compile()``."""
    return loop_body_counts(jitted.lower(*args, **kwargs).compile().as_text(), carry_shape)
