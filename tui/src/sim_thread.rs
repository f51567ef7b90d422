//! The simulation thread: owns the [`Driver`], paces it against the wall clock, obeys
//! [`SimCommand`]s and sends snapshots as [`Message`]s.

use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use drydock_core::{SimDuration, SimTime};

use crate::app::{Message, SPEEDS, SimCommand};
use crate::snapshot::Driver;

/// Snapshots sent per second at most while running.
const FRAME: Duration = Duration::from_millis(33);

/// Starts the thread. It ends on [`SimCommand::Quit`] or when either channel closes.
pub fn spawn(
    driver: Driver,
    b: Option<Driver>,
    to_ui: Sender<Message>,
) -> (Sender<SimCommand>, JoinHandle<()>) {
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = std::thread::Builder::new()
        .name("drydock-sim".to_string())
        .spawn(move || run(driver, b, &rx, &to_ui))
        .expect("the OS can start a thread");
    (tx, handle)
}

fn send(to_ui: &Sender<Message>, driver: &Driver, b: &Option<Driver>) -> bool {
    if let Some(b) = b
        && to_ui
            .send(Message::SnapshotB(Box::new(b.snapshot())))
            .is_err()
    {
        return false;
    }
    to_ui
        .send(Message::Snapshot(Box::new(driver.snapshot())))
        .is_ok()
}

/// Brings the compared run to run A's virtual time.
fn sync(b: &mut Option<Driver>, a: &Driver) -> Result<(), drydock_sim::SimError> {
    match b {
        Some(b) if b.clock() < a.clock() => b.jump_to(a.clock()),
        _ => Ok(()),
    }
}

fn run(
    mut driver: Driver,
    mut b: Option<Driver>,
    rx: &Receiver<SimCommand>,
    to_ui: &Sender<Message>,
) {
    let mut playing = false;
    let mut speed = crate::app::DEFAULT_SPEED;
    let mut anchor = (Instant::now(), driver.clock());
    let mut last_sent = Instant::now();
    loop {
        let cmd = if playing {
            match rx.try_recv() {
                Ok(c) => Some(c),
                Err(TryRecvError::Empty) => None,
                Err(TryRecvError::Disconnected) => return,
            }
        } else {
            match rx.recv_timeout(Duration::from_millis(200)) {
                Ok(c) => Some(c),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => return,
            }
        };
        if let Some(cmd) = cmd {
            let result = match cmd {
                SimCommand::Quit => return,
                SimCommand::Pace {
                    playing: p,
                    speed: s,
                } => {
                    playing = p && !driver.is_finished();
                    speed = s.min(SPEEDS.len() - 1);
                    Ok(())
                }
                SimCommand::Step => {
                    playing = false;
                    driver.step()
                }
                SimCommand::FailNode(n) => match b.as_mut() {
                    Some(b) => b.fail_node(n).and_then(|()| driver.fail_node(n)),
                    None => driver.fail_node(n),
                },
                SimCommand::JumpTo(t) => {
                    playing = false;
                    match b.as_mut() {
                        Some(b) => b.jump_to(t).and_then(|()| driver.jump_to(t)),
                        None => driver.jump_to(t),
                    }
                }
            };
            let result = result.and_then(|()| sync(&mut b, &driver));
            anchor = (Instant::now(), driver.clock());
            if let Err(e) = result
                && to_ui.send(Message::SimError(e.to_string())).is_err()
            {
                return;
            }
            if !send(to_ui, &driver, &b) {
                return;
            }
            last_sent = Instant::now();
            continue;
        }
        if !playing {
            continue;
        }
        let start = Instant::now();
        let budget = Duration::from_millis(25);
        let result = match SPEEDS[speed] {
            Some(x) => {
                let elapsed = anchor.0.elapsed().as_micros() as u64;
                let target = anchor
                    .1
                    .saturating_add(SimDuration(elapsed.saturating_mul(x as u64)));
                let mut r = Ok(());
                while driver.clock() < target && !driver.is_finished() {
                    if let Err(e) = driver.advance(20_000, target) {
                        r = Err(e);
                        break;
                    }
                    if start.elapsed() > budget {
                        // Cannot keep up: slow the virtual clock down rather than race.
                        anchor = (Instant::now(), driver.clock());
                        break;
                    }
                }
                r
            }
            None => {
                let mut r = Ok(());
                while start.elapsed() < budget && !driver.is_finished() {
                    if let Err(e) = driver.advance(4096, SimTime::MAX) {
                        r = Err(e);
                        break;
                    }
                }
                r
            }
        };
        let result = result.and_then(|()| sync(&mut b, &driver));
        if let Err(e) = result {
            playing = false;
            if to_ui.send(Message::SimError(e.to_string())).is_err() {
                return;
            }
        }
        if driver.is_finished() {
            playing = false;
        }
        if (last_sent.elapsed() >= FRAME || !playing) && {
            last_sent = Instant::now();
            !send(to_ui, &driver, &b)
        } {
            return;
        }
        if playing && start.elapsed() < Duration::from_millis(5) {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}
