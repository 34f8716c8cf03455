"""Reference values from CPython's random module for test_random.cpp.

Each argument is one case, "SEED:OP:COUNT:INTS:FLOATS" (INTS and FLOATS are
comma-separated and may be empty; FLOATS are in float.hex() form, "none"
stands for None). SEED is "i<decimal>" (an int of any size), "f<hex float>",
"s<hex of UTF-8>" (a str) or "b<hex>" (bytes). For every case one line is
printed: the values, space-separated. Integers print in decimal; floats print
as the decimal value of their IEEE-754 bit pattern so that the C++ side can
compare them bit for bit; bytes print as hex.
"""
import random
import struct
import sys


def bits(x):
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def parse_seed(text):
    kind, rest = text[0], text[1:]
    if kind == "i":
        return int(rest)
    if kind == "f":
        return float.fromhex(rest)
    if kind == "s":
        return bytes.fromhex(rest).decode("utf-8")
    if kind == "b":
        return bytes.fromhex(rest)
    raise SystemExit("unknown seed " + text)


# One real-valued draw per op, with the case's float arguments.
VARIATES = {
    "uniform": lambda r, f: r.uniform(f[0], f[1]),
    "triangular": lambda r, f: r.triangular(*f),
    "normalvariate": lambda r, f: r.normalvariate(*f),
    "gauss": lambda r, f: r.gauss(*f),
    "lognormvariate": lambda r, f: r.lognormvariate(*f),
    "expovariate": lambda r, f: r.expovariate(*f),
    "vonmisesvariate": lambda r, f: r.vonmisesvariate(*f),
    "gammavariate": lambda r, f: r.gammavariate(*f),
    "betavariate": lambda r, f: r.betavariate(*f),
    "paretovariate": lambda r, f: r.paretovariate(*f),
    "weibullvariate": lambda r, f: r.weibullvariate(*f),
}


def run(rng, op, count, args, fargs):
    out = []
    if op == "random":
        out = [bits(rng.random()) for _ in range(count)]
    elif op in VARIATES:
        out = [bits(VARIATES[op](rng, fargs)) for _ in range(count)]
    elif op in ("getrandbits", "getrandbits_words"):
        out = [rng.getrandbits(args[0]) for _ in range(count)]
    elif op == "randbytes":
        out = [rng.randbytes(args[0]).hex() or "-" for _ in range(count)]
    elif op == "randrange":
        out = [rng.randrange(*args) for _ in range(count)]
    elif op == "randint":
        out = [rng.randint(*args) for _ in range(count)]
    elif op == "choice":
        seq = [i * i for i in range(args[0])]
        out = [rng.choice(seq) for _ in range(count)]
    elif op == "shuffle":  # COUNT successive shuffles of one list, all printed
        seq = list(range(args[0]))
        for _ in range(count):
            rng.shuffle(seq)
            out.extend(seq)
    elif op == "sample":  # population range(n), k
        for _ in range(count):
            out.extend(rng.sample(range(args[0]), args[1]))
    elif op == "sample_counts":  # k, counts...; population 10 * i
        counts = args[1:]
        population = [10 * i for i in range(len(counts))]
        for _ in range(count):
            out.extend(rng.sample(population, args[0], counts=counts))
    elif op in ("choices", "choices_cum"):  # n, k; FLOATS are the weights
        population = [i * i for i in range(args[0])]
        weights = fargs if fargs else None
        for _ in range(count):
            if op == "choices":
                out.extend(rng.choices(population, weights, k=args[1]))
            else:
                out.extend(rng.choices(population, cum_weights=weights, k=args[1]))
    elif op == "state":  # COUNT gauss() draws, then getstate()
        for _ in range(count):
            rng.gauss()
        version, words, gauss_next = rng.getstate()
        out = list(words) + [bits(gauss_next) if gauss_next is not None else "none"]
    elif op == "mix":  # interleaved calls: the state must carry over exactly
        for i in range(count):
            out.append(bits(rng.random()))
            out.append(rng.getrandbits(i % 65))
            out.append(rng.randrange(i + 1))
            out.append(rng.randint(-i, i))
            out.append(rng.randrange(-(2**63), 2**63 - 1, i + 1))
            out.append(bits(rng.uniform(-1.5, 2.5)))
            out.append(rng.choice(range(i % 7 + 1)))
            out.append(bits(rng.gauss(1.0, 2.0)))
            out.append(bits(rng.gammavariate(0.5 + i % 3, 1.0)))
            out.append(rng.randbytes(i % 6).hex() or "-")
    else:
        raise SystemExit("unknown op " + op)
    return out


def parse_float(text):
    return None if text == "none" else float.fromhex(text)


def main():
    for case in sys.argv[1:]:
        seed, op, count, ints, floats = case.split(":")
        rng = random.Random(parse_seed(seed))
        args = [int(a) for a in ints.split(",") if a]
        fargs = [parse_float(a) for a in floats.split(",") if a]
        print(" ".join(str(v) for v in run(rng, op, int(count), args, fargs)))


if __name__ == "__main__":
    main()
