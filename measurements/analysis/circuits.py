"""Equivalent circuits written in impedance.py's string syntax, compiled to a fast evaluator.

    circuit = parse_circuit("R0-p(R1,CPE1)-CPE2")
    circuit.parameter_names        # ['R0', 'R1', 'Q1', 'n1', 'Q2', 'n2']
    z, jac = circuit.impedance(values, omega, jacobian=True)

Syntax: elements joined in series by ``-``; ``p(a, b, ...)`` puts its branches in parallel
(branches may themselves be series chains or nested ``p(...)``). Elements:

========  =====================================  ==================================
element   impedance                              parameters (fitted as)
========  =====================================  ==================================
``R``     R                                      R (log)
``C``     1 / (j w C)                            C (log)
``L``     j w L                                  L (log)
``CPE``   1 / (Q (j w)^n)                        Q (log), n (linear, 0.3 to 1)
``W``     A_w (1 - j) / sqrt(w)   (semi-infinite) A_w (log)
``Wo``    R coth(sqrt(j w tau)) / sqrt(j w tau)  R, tau (log)  (finite space, open)
``Ws``    R tanh(sqrt(j w tau)) / sqrt(j w tau)  R, tau (log)  (finite length, short)
========  =====================================  ==================================

An element is its type followed by an optional index (``R0``, ``CPE1``, ``Wo2``, ``L``);
every element's name must be unique. Parameter names follow the element: ``R1``, ``C2``,
``L0``; a CPE ``CPE1`` has ``Q1`` and ``n1``; ``W1`` has ``W1``; ``Wo1`` has ``Wo1_R`` and
``Wo1_tau``. These keep the names the LIMS stored before any circuit could be written.

The Jacobian is analytic and taken with respect to the fit coordinates (the logarithm of
positive parameters, the exponent n itself): parallel branches propagate derivatives by
d(1/Y) = Z^2 / Z_i^2 dZ_i. It is what makes a fit take milliseconds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from measurements.analysis import AnalysisError

MAX_LENGTH = 200
MAX_ELEMENTS = 16

# Element type -> its parameters: (suffix of the parameter name, unit, fitted in log space).
_ELEMENTS: dict[str, tuple[tuple[str, str, bool], ...]] = {
    "R": (("", "ohm", True),),
    "C": (("", "F", True),),
    "L": (("", "H", True),),
    "CPE": (("Q", "F s^(n-1)", True), ("n", "", False)),
    "W": (("", "ohm s^-1/2", True),),
    "Wo": (("_R", "ohm", True), ("_tau", "s", True)),
    "Ws": (("_R", "ohm", True), ("_tau", "s", True)),
}
# Physical bounds of each parameter value: wide enough for any cell, tight enough that an
# element cannot wander to 1e-30 and stall the optimiser.
BOUNDS: dict[str, tuple[float, float]] = {
    "ohm": (1e-6, 1e12),
    "F": (1e-16, 1e4),
    "H": (1e-15, 1e-1),
    "F s^(n-1)": (1e-16, 1e4),
    "": (0.3, 1.0),
    "ohm s^-1/2": (1e-6, 1e12),
    "s": (1e-9, 1e6),
}
_TOKEN = re.compile(r"\s*(?:(p\()|(CPE|Wo|Ws|R|C|L|W)(\d*)(?![A-Za-z_])|([-,)]))")


@dataclass(frozen=True)
class Parameter:
    name: str
    element: str
    unit: str
    is_log: bool

    @property
    def bounds(self) -> tuple[float, float]:
        return BOUNDS[self.unit]


@dataclass(frozen=True)
class Element:
    kind: str  # "R", "C", "L", "CPE", "W", "Wo", "Ws"
    name: str  # "R0", "CPE1", ...
    first: int  # index of its first parameter in the circuit's parameter vector


@dataclass(frozen=True)
class Node:
    """A series chain or a parallel group of children (Elements or Nodes)."""

    parallel: bool
    children: tuple


class Circuit:
    """A parsed circuit: its parameters and a function of (values, omega) -> Z (and dZ)."""

    def __init__(self, text: str, root: Node, parameters: list[Parameter], elements: list):
        self.text = text
        self.root = root
        self.parameters = parameters
        self.elements = elements

    @property
    def parameter_names(self) -> list[str]:
        return [p.name for p in self.parameters]

    @property
    def resistances(self) -> list[str]:
        """Names of the parameters that are resistances (R elements and Wo/Ws R)."""
        return [p.name for p in self.parameters if p.unit == "ohm"]

    def top_level(self) -> tuple:
        """The circuit's series terms (an Element or a parallel Node each)."""
        return self.root.children if not self.root.parallel else (self.root,)

    def impedance(
        self, values: np.ndarray, omega: np.ndarray, *, jacobian: bool = False
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Z(omega) and, when asked, dZ/d(fit coordinate) with shape (len(omega), n_params)."""
        log_jw = np.log(omega) + 0.5j * np.pi
        jac = np.zeros((omega.size, len(self.parameters)), dtype=complex) if jacobian else None
        z = _evaluate(self.root, np.asarray(values, dtype=float), omega, log_jw, jac)
        return z, jac


def _evaluate(node, p: np.ndarray, omega: np.ndarray, log_jw: np.ndarray, jac) -> np.ndarray:
    if isinstance(node, Element):
        return _element(node, p, omega, log_jw, jac)
    if not node.parallel:
        return sum(_evaluate(child, p, omega, log_jw, jac) for child in node.children)
    # Parallel: evaluate each branch into its own Jacobian block, then scale by Z^2 / Z_i^2.
    branches = []
    for child in node.children:
        block = None if jac is None else np.zeros_like(jac)
        branches.append((_evaluate(child, p, omega, log_jw, block), block))
    z = 1.0 / sum(1.0 / zi for zi, _ in branches)
    if jac is not None:
        for zi, block in branches:
            jac += block * ((z / zi) ** 2)[:, None]
    return z


def _element(el: Element, p: np.ndarray, omega: np.ndarray, log_jw: np.ndarray, jac):
    i = el.first
    if el.kind == "R":
        z = np.full(omega.shape, p[i], dtype=complex)
        d = [z]
    elif el.kind == "C":
        z = 1.0 / (1j * omega * p[i])
        d = [-z]
    elif el.kind == "L":
        z = 1j * omega * p[i]
        d = [z]
    elif el.kind == "CPE":
        z = np.exp(-p[i + 1] * log_jw) / p[i]
        d = [-z, -log_jw * z]
    elif el.kind == "W":
        z = p[i] * (1 - 1j) / np.sqrt(omega)
        d = [z]
    else:  # Wo / Ws: s = sqrt(j w tau); ds/dln(tau) = s / 2
        s = np.sqrt(1j * omega * p[i + 1])
        t = np.tanh(s)
        if el.kind == "Wo":
            f = 1.0 / (t * s)  # coth(s) / s
            df_ds = (-s * (1.0 / (t * t) - 1.0) - 1.0 / t) / (s * s)
        else:
            f = t / s
            df_ds = (s * (1.0 - t * t) - t) / (s * s)
        z = p[i] * f
        d = [z, p[i] * df_ds * s / 2]
    if jac is not None:
        for k, column in enumerate(d):
            jac[:, i + k] += column
    return z


def parse_circuit(text: str) -> Circuit:
    """Parse ``text``; raises AnalysisError saying where the syntax is wrong."""
    if not isinstance(text, str) or not text.strip():
        raise AnalysisError("the circuit is empty; write it like R0-p(R1,CPE1)-CPE2")
    if len(text) > MAX_LENGTH:
        raise AnalysisError(f"the circuit is longer than {MAX_LENGTH} characters")
    parser = _Parser(text)
    root = parser.chain()
    if parser.pos != len(text.rstrip()):
        parser.fail("expected '-' or the end of the circuit")
    if not isinstance(root, Node):
        root = Node(False, (root,))
    return Circuit(text.replace(" ", ""), root, parser.parameters, parser.elements)


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.pos = 0
        self.parameters: list[Parameter] = []
        self.elements: list[Element] = []

    def fail(self, what: str) -> None:
        near = self.text[self.pos : self.pos + 12] or "the end"
        raise AnalysisError(
            f"circuit {self.text!r}: {what} at character {self.pos + 1} (near {near!r}); "
            "elements are R, C, L, CPE, W, Wo, Ws with an index (R0, CPE1), joined by '-' "
            "in series and p(a,b) in parallel"
        )

    def token(self) -> re.Match | None:
        return _TOKEN.match(self.text, self.pos)

    def chain(self):
        terms = [self.term()]
        while (m := self.token()) and m.group(4) == "-":
            self.pos = m.end()
            terms.append(self.term())
        return terms[0] if len(terms) == 1 else Node(False, tuple(terms))

    def term(self):
        m = self.token()
        if m is None or m.group(4):
            self.fail("expected an element or p(")
        self.pos = m.end()
        if m.group(1):
            branches = [self.chain()]
            while (m := self.token()) and m.group(4) == ",":
                self.pos = m.end()
                branches.append(self.chain())
            if not (m and m.group(4) == ")"):
                self.fail("expected ',' or ')' to close p(")
            self.pos = m.end()
            if len(branches) < 2:
                self.fail("p(...) needs at least two branches")
            return Node(True, tuple(branches))
        return self.element(m.group(2), m.group(3))

    def element(self, kind: str, index: str) -> Element:
        name = kind + index
        if any(e.name == name for e in self.elements):
            self.fail(f"element {name} appears twice (give each its own index)")
        if len(self.elements) >= MAX_ELEMENTS:
            self.fail(f"more than {MAX_ELEMENTS} elements")
        el = Element(kind, name, len(self.parameters))
        for suffix, unit, is_log in _ELEMENTS[kind]:
            # A CPE's parameters are Q<i> and n<i>; the others carry the element's name.
            pname = suffix + index if kind == "CPE" else name + suffix
            if any(p.name == pname for p in self.parameters):
                self.fail(f"parameter {pname} would appear twice")
            self.parameters.append(Parameter(pname, name, unit, is_log))
        self.elements.append(el)
        return el


def resistance_sum(circuit: Circuit, expression: str) -> list[str]:
    """The resistance parameters in ``"R0+R1"``; raises AnalysisError naming what is wrong."""
    names = [part.strip() for part in expression.split("+")]
    known = circuit.resistances
    for name in names:
        if name not in known:
            raise AnalysisError(
                f"{name or '(empty)'!r} is not a resistance of {circuit.text}; "
                f"its resistances are {', '.join(known) or 'none'}"
            )
    if len(set(names)) != len(names):
        raise AnalysisError(f"{expression!r} names a resistance twice")
    return names
