from kalshi_trading.api.ratelimit import RateLimiter, TokenBucket


class Clock:
    def __init__(self):
        self.t = 0.0
        self.slept = []

    def __call__(self):
        return self.t

    def sleep(self, s):
        self.slept.append(s)
        self.t += s


def test_bucket_paces_after_burst():
    clock = Clock()
    bucket = TokenBucket(rate=100, capacity=100, clock=clock, sleep=clock.sleep)
    for _ in range(10):  # 10 x 10 tokens: the whole 1-second burst, no waiting
        assert bucket.acquire(10) == 0
    waited = bucket.acquire(10)  # the 11th waits for 10 tokens at 100/s
    assert abs(waited - 0.1) < 1e-9 and abs(clock.t - 0.1) < 1e-9


def test_tier_costs_and_buckets():
    clock = Clock()
    limiter = RateLimiter.for_tier("basic", clock=clock, sleep=clock.sleep)
    assert limiter.read.rate == 200 and limiter.write.rate == 100 and limiter.write.capacity == 100
    assert limiter.cost("DELETE", "/portfolio/events/orders/abc") == 2
    assert limiter.cost("POST", "/portfolio/events/orders/batched", items=5) == 50
    advanced = RateLimiter.for_tier("advanced", clock=clock, sleep=clock.sleep)
    assert advanced.write.capacity == 600  # two seconds of write refill above Basic
    custom = RateLimiter.for_tier("basic", clock=clock, sleep=clock.sleep, costs={("GET", "/portfolio/balance"): 1})
    assert custom.cost("GET", "/portfolio/balance") == 1


def test_writes_do_not_drain_reads():
    clock = Clock()
    limiter = RateLimiter.for_tier("basic", clock=clock, sleep=clock.sleep)
    for _ in range(10):
        limiter.acquire("POST", "/portfolio/events/orders")
    assert limiter.write.available < 1 and limiter.read.available == 200
    limiter.acquire("GET", "/markets")
    assert clock.slept == []
