"""The bot's average-cost ledger stays exact: the cost removed on a close is floored to $0.000001 and the
remainder stays in the basis, so a position closed in full realizes exactly proceeds - cost."""

from decimal import Decimal as D

from kalshi_trading.auto.ledger import TickerBook


def test_average_cost_is_exact_through_thirds():
    book = TickerBook()
    for price in ("0.33", "0.33", "0.34"):  # 3 YES for $1.00: the average is 1/3
        book.apply(D(1), D(price), D(0))
    first = book.apply(D(-1), D("0.50"), D(0))
    # removed = 1.00 x 1/3 = 0.333333 (floored); realized = 0.50 - 0.333333
    assert first == D("0.166667") and book.cost == D("0.666667")
    rest = book.apply(D(-2), D("0.50"), D(0))
    assert rest == D("0.333333") and book.position == 0 and book.cost == 0
    assert book.realized == D("0.50")  # 1.50 proceeds - 1.00 cost, to the cent and beyond


def test_short_side_and_flip():
    book = TickerBook()
    book.apply(D(-3), D("0.60"), D(0))  # short 3 YES at 0.60 (= long 3 NO at 0.40)
    assert book.cost == D("-1.80")
    realized = book.apply(D(5), D("0.50"), D(0))  # buy 5: close 3 at 0.50 (gain 0.30), open 2 long at 0.50
    assert realized == D("0.30") and book.position == 2 and book.cost == D("1.00")
