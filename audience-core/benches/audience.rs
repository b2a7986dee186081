//! Core throughput: 100,000 joins and leaves over 10,000 live connections of 2,000 users, with a
//! snapshot taken after every change; and the cost of one snapshot as the audience grows.
//!
//! Run with `cargo bench -p audience-core` (or `cargo xtask bench`).

use std::hint::black_box;

use audience_core::audience::ServiceAudience;
use audience_core::member::BasicMember;
use audience_core::roster::RosterInput;
use audience_core::transport::Source;
use audience_core::wire::{Client, ConnectionMode, SignalClient, User};
use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

const USERS: usize = 2_000;
const LIVE: usize = 10_000;
const CHANGES: usize = 100_000;

fn joined(n: usize) -> RosterInput {
    let user = n % USERS;
    let mode = if n % 5 == 0 {
        ConnectionMode::Read
    } else {
        ConnectionMode::Write
    };
    let client = Client::interactive(
        User::new(format!("user-{user:04}"), format!("User {user}")),
        mode,
    );
    let source = if n % 2 == 0 {
        Source::Signal
    } else {
        Source::Op
    };
    RosterInput::Joined {
        client: SignalClient::new(format!("client-{n:08}"), client),
        source,
    }
}

/// 10,000 joins, then churn (one leave, one join) up to 100,000 changes. Deterministic: a small
/// linear congruential generator picks who leaves.
fn script() -> Vec<RosterInput> {
    let mut inputs = Vec::with_capacity(CHANGES);
    let mut live: Vec<usize> = (0..LIVE).collect();
    inputs.extend((0..LIVE).map(joined));
    let mut next = LIVE;
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    while inputs.len() < CHANGES {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let slot = (seed >> 33) as usize % live.len();
        let gone = std::mem::replace(&mut live[slot], next);
        inputs.push(RosterInput::Left {
            client_id: format!("client-{gone:08}"),
            source: Source::Signal,
        });
        inputs.push(joined(next));
        next += 1;
    }
    inputs.truncate(CHANGES);
    inputs
}

fn connected() -> ServiceAudience<BasicMember> {
    let mut audience = ServiceAudience::default();
    audience.apply(RosterInput::Connected {
        client_id: "me".into(),
        initial_clients: vec![],
    });
    audience
}

fn changes(c: &mut Criterion) {
    let script = script();
    let mut group = c.benchmark_group("core");
    group.sample_size(10);
    group.throughput(Throughput::Elements(CHANGES as u64));
    group.bench_function("100k changes, snapshot after each", |b| {
        b.iter_batched(
            || (connected(), script.clone()),
            |(mut audience, script)| {
                for input in script {
                    black_box(audience.apply(input));
                    black_box(audience.get_members());
                }
                audience
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

fn snapshot(c: &mut Criterion) {
    let mut group = c.benchmark_group("snapshot");
    for members in [100usize, 2_000, 20_000] {
        let mut audience = connected();
        for n in 0..members {
            // One connection per user here, so members == connections.
            let client = Client::interactive(
                User::new(format!("user-{n:06}"), "U"),
                ConnectionMode::Write,
            );
            audience.apply(RosterInput::Joined {
                client: SignalClient::new(format!("client-{n:08}"), client),
                source: Source::Signal,
            });
        }
        group.bench_with_input(
            BenchmarkId::new("get_members", members),
            &audience,
            |b, audience| b.iter(|| black_box(audience.get_members())),
        );
    }
    group.finish();
}

criterion_group!(benches, changes, snapshot);
criterion_main!(benches);
