//! Wake-ups on time for the simulator's latency.
//!
//! tokio's timer has a one-millisecond tick and rounds every deadline up to the next tick (and
//! its driver's sleep up again), so a 20 ms latency came out as 20.5–21.5 ms, and a bulk run
//! against a simulator measured that instead of the client. An [`Alarm`] is one thread that
//! sleeps until the earliest deadline it holds with the operating system's own timed wait
//! (tens of microseconds late at most) and then wakes the tasks waiting for it. It is never
//! early. When its thread cannot start, tokio's timer does the waiting.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Instant;

use tokio::sync::oneshot;

/// One wake-up: when, in what order it was asked for, and whom to wake.
struct Due {
    at: Instant,
    seq: u64,
    wake: oneshot::Sender<()>,
}

impl PartialEq for Due {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl Eq for Due {}

impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Due {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// The alarm thread's handle; the thread ends when the handle is dropped.
pub(crate) struct Alarm {
    asks: Option<mpsc::Sender<(Instant, oneshot::Sender<()>)>>,
}

impl Alarm {
    /// Starts the alarm's thread.
    pub(crate) fn start() -> Self {
        let (asks, asked) = mpsc::channel::<(Instant, oneshot::Sender<()>)>();
        let started = std::thread::Builder::new()
            .name("simulator-alarm".into())
            .spawn(move || {
                let mut due: BinaryHeap<Reverse<Due>> = BinaryHeap::new();
                let mut seq = 0u64;
                loop {
                    let next = match due.peek() {
                        None => asked.recv().map_err(|_| RecvTimeoutError::Disconnected),
                        Some(Reverse(first)) => {
                            asked.recv_timeout(first.at.saturating_duration_since(Instant::now()))
                        }
                    };
                    match next {
                        Ok((at, wake)) => {
                            due.push(Reverse(Due { at, seq, wake }));
                            seq = seq.wrapping_add(1);
                        }
                        Err(RecvTimeoutError::Timeout) => {}
                        // The front is gone: whoever still waits is woken by the drop.
                        Err(RecvTimeoutError::Disconnected) => return,
                    }
                    let now = Instant::now();
                    while due.peek().is_some_and(|Reverse(first)| first.at <= now) {
                        if let Some(Reverse(first)) = due.pop() {
                            let _ = first.wake.send(());
                        }
                    }
                }
            });
        Self {
            asks: started.is_ok().then_some(asks),
        }
    }

    /// Waits until `at` (never less).
    pub(crate) async fn until(&self, at: tokio::time::Instant) {
        let at_std = at.into_std();
        if at_std <= Instant::now() {
            return;
        }
        let (wake, woken) = oneshot::channel();
        let asked = self
            .asks
            .as_ref()
            .is_some_and(|asks| asks.send((at_std, wake)).is_ok());
        if !asked || woken.await.is_err() || Instant::now() < at_std {
            tokio::time::sleep_until(at).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Alarm;
    use std::time::Duration;

    #[tokio::test]
    async fn wakes_every_waiter_never_early() {
        let alarm = Alarm::start();
        let start = tokio::time::Instant::now();
        // Asked in reverse order of their deadlines, some at the same instant.
        let offsets: Vec<u64> = (0..24).rev().map(|i| 2 + (i % 12) * 3).collect();
        let waits = offsets.iter().map(|&ms| {
            let at = start + Duration::from_millis(ms);
            let alarm = &alarm;
            async move {
                alarm.until(at).await;
                tokio::time::Instant::now() >= at
            }
        });
        let woken = futures_util::future::join_all(waits).await;
        assert_eq!(woken.len(), 24);
        assert!(woken.iter().all(|on_time| *on_time), "{woken:?}");
        // A deadline already past returns at once, and the alarm still serves afterwards.
        alarm.until(start).await;
        let at = tokio::time::Instant::now() + Duration::from_millis(5);
        alarm.until(at).await;
        assert!(tokio::time::Instant::now() >= at);
    }
}
