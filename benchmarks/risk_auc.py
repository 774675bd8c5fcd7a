"""How well Riesgo foresees late payment: ROC AUC on a time split of a workbook's history.

    python -m benchmarks.risk_auc [LIBRO.xlsm ...] [--demo] [--generate N] [--months 6]

At each monthly cut-off T (the book's as-of date minus 1, 2, ... months, while the next
30 days are inside the book), every customer with an invoice due in (T, T + 30] is
scored with only the data dated on or before T (`compute_risk` at T; the rule itself
ignores later payments, gestiones and invoices). Its label: some invoice of that window
was paid late, i.e. its last payment is dated after its Vencimiento, or it is still
unpaid at the book's as-of date (payments dated later than T are the future the score
never saw). Two baselines at the same cut-offs: (a) the share of the customer's
invoices fully paid by T that were paid late; (b) the days overdue today of its oldest
open invoice. AUC is the rank-based Mann-Whitney statistic (ties count half), pooled
over every (cut-off, customer) pair. No sklearn.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from cobranza.book.records import Book
from cobranza.rules.invoices import as_day, compute_invoices
from cobranza.rules.risk import compute_risk, paid_dates
from sync.xlsx.reader import read_book

WINDOW = 30  # days after the cut-off whose invoices are labelled


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """P(score of a positive > score of a negative), ties half: Mann-Whitney U / (n+ n-)."""
    scores, labels = np.asarray(scores, dtype="float64"), np.asarray(labels, dtype=bool)
    positives, negatives = int(labels.sum()), int((~labels).sum())
    if not positives or not negatives:
        return float("nan")
    ranks = pd.Series(scores).rank(method="average").to_numpy()
    u = ranks[labels].sum() - positives * (positives + 1) / 2
    return float(u / (positives * negatives))


def _labels(book: Book, end: pd.Timestamp, cut: pd.Timestamp) -> pd.Series:
    """Per customer with an invoice due in (cut, cut + WINDOW]: paid one of them late."""
    inv = book.invoices
    paid = paid_dates(book, end).to_numpy()  # every payment in the book: the truth
    due = inv["due"].to_numpy()
    window = (due > cut.to_datetime64()) & (due <= (cut + pd.Timedelta(days=WINDOW))
                                             .to_datetime64())
    late = np.isnat(paid) | (paid > due)
    return pd.Series(late[window]).groupby(inv["customer"].to_numpy()[window]).any()


def _baselines(book: Book, invoices: pd.DataFrame, cut: pd.Timestamp
               ) -> tuple[pd.Series, pd.Series]:
    """(a) share of the invoices paid by `cut` that were paid late; (b) oldest overdue."""
    inv = book.invoices
    paid = paid_dates(book, cut).to_numpy()
    done = ~np.isnat(paid)
    late = paid[done] > inv["due"].to_numpy()[done]
    share = pd.Series(late).groupby(inv["customer"].to_numpy()[done]).mean()
    open_ = (invoices["balance"].to_numpy() > 0) & (invoices["days_overdue"].fillna(0) > 0
                                                     ).to_numpy()
    oldest = invoices["days_overdue"][open_].groupby(invoices["customer"][open_]).max()
    return share, oldest


def replay(book: Book, as_of: date, months: int) -> tuple[pd.DataFrame, float]:
    """One row per (cut-off, labelled customer): label, risk, share_late, oldest; and the
    mean seconds to score one cut-off."""
    end, rows, spent = as_day(as_of), [], []
    for k in range(1, months + 1):
        cut = end - pd.DateOffset(months=k)
        if cut + pd.Timedelta(days=WINDOW) > end:
            continue
        labels = _labels(book, end, cut)
        if labels.empty:
            continue
        started = time.perf_counter()
        invoices = compute_invoices(book, cut.date())
        risk = compute_risk(book, invoices, cut.date()).set_index("customer")["risk"]
        spent.append(time.perf_counter() - started)
        share, oldest = _baselines(book, invoices, cut)
        rows.append(pd.DataFrame({
            "cut": cut.date(), "customer": labels.index, "label": labels.to_numpy(),
            "risk": risk.reindex(labels.index).fillna(0).to_numpy(),
            "share_late": share.reindex(labels.index).fillna(
                share.mean() if len(share) else 0.0).to_numpy(),
            "oldest": oldest.reindex(labels.index).fillna(0).to_numpy(),
        }))
    frame = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
    return frame, float(np.mean(spent)) if spent else float("nan")


def report(name: str, path: Path, as_of: date, months: int) -> str:
    book = read_book(path)
    frame, seconds = replay(book, as_of, months)
    figures = {c: auc(frame[c], frame["label"]) for c in ("risk", "share_late", "oldest")}
    return (f"| {name} | {len(book.invoices):,} | {frame['cut'].nunique()} | {len(frame):,} | "
            f"{frame['label'].mean():.0%} | {figures['risk']:.3f} | "
            f"{figures['share_late']:.3f} | {figures['oldest']:.3f} | {seconds:.2f} s |")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("books", nargs="*", type=Path)
    parser.add_argument("--as-of", type=date.fromisoformat, default=None,
                        help="the books' cut-off (default: the demo's, or today)")
    parser.add_argument("--demo", action="store_true", help="`cobranza init --demo`'s book")
    parser.add_argument("--generate", type=int, default=0, metavar="N",
                        help="a generated book of N invoices (benchmarks.generate)")
    parser.add_argument("--months", type=int, default=6, help="monthly cut-offs (6)")
    args = parser.parse_args(argv)
    from sync.cli import DEMO_AS_OF  # the date `cobranza init --demo` uses

    as_of = args.as_of or DEMO_AS_OF.date()
    books: list[tuple[str, Path]] = [(p.name, p) for p in args.books]
    folder = Path(tempfile.mkdtemp(prefix="risk-auc-"))
    if args.demo:
        from sync.workbook.init import create_workbook

        books.append(("demo", create_workbook(folder / "demo.xlsm", demo=True, as_of=as_of)))
    if args.generate:
        from benchmarks.generate import cached_workbook

        books.append((f"generado {args.generate:,}",
                      cached_workbook(args.generate, as_of=as_of)))
    print("| Libro | Facturas | Cortes | Clientes etiquetados | Pagan tarde | AUC Riesgo |"
          " AUC (a) % pagadas tarde | AUC (b) días vencidos hoy | Cálculo por corte |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, path in books:
        print(report(name, path, as_of, args.months), flush=True)


if __name__ == "__main__":
    main()
