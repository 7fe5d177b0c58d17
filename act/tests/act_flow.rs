//! Decisions through the issuer and the actuator: commands carry their provenance, noops stop early,
//! expired and replayed commands are never applied.

use medic_act::ActConfig;
use schemas::{
    Action, ActionOutcome, ActionResult, Decision, Emitter, ErrorKind, FaultClass,
    RemediationCommand, SCHEMA_VERSION, SourceCoordinates, SourceRecord, Stage, Target,
};

const NOW: i64 = 1_700_000_000_000_000_000;
fn now() -> i64 {
    NOW
}
fn much_later() -> i64 {
    NOW + 3_600_000_000_000
}

fn decision(id: &str, action: Action) -> SourceRecord {
    let decision = Decision {
        schema_version: SCHEMA_VERSION,
        decision_id: id.into(),
        diagnosis_id: "dia-1".into(),
        fault: FaultClass::Oom,
        confidence: 0.9,
        target: Target::deployment("shop", "web"),
        action,
        reason: "test".into(),
        policy_id: "rules@1".into(),
        window_start_ns: 1,
        decided_at_ns: 5,
        template_ids: vec!["tpl-1".into()],
        model: "keyword-rules@1".into(),
        sources: vec![SourceCoordinates {
            topic: "medic.logs.k8s".into(),
            partition: 1,
            offset: 7,
            index: 0,
        }],
    };
    SourceRecord::new(
        "medic.decisions",
        0,
        0,
        serde_json::to_vec(&decision).expect("encode"),
    )
}

fn issue(batch: &[SourceRecord]) -> (Vec<SourceRecord>, u64) {
    let mut issuer = ActConfig::default()
        .build_issuer()
        .expect("valid")
        .with_clock(now);
    let mut out = Emitter::new();
    issuer.process_batch(batch, &mut out);
    let commands = out
        .emitted()
        .iter()
        .enumerate()
        .map(|(i, e)| SourceRecord::new("medic.actions", 0, i as i64, e.payload.clone()))
        .collect();
    (commands, out.dropped())
}

#[test]
fn commands_carry_keys_expiry_and_provenance() {
    let (commands, dropped) = issue(&[
        decision("dec-1", Action::RolloutRestart),
        decision("dec-2", Action::Noop),
    ]);
    assert_eq!((commands.len(), dropped), (1, 1));
    let command: RemediationCommand =
        schemas::decode_record(&commands[0].payload).expect("command");
    assert_eq!(command.idempotency_key, "dec-1");
    assert_eq!(command.issued_at_ns, NOW);
    assert_eq!(command.expires_at_ns, NOW + 600_000_000_000);
    assert_eq!(command.provenance.sources[0].offset, 7);
    assert_eq!(command.provenance.policy_id, "rules@1");
    assert_eq!(command.provenance.window_ns, Some((1, 5)));
}

/// `commands` as the actuator reads them from `medic.actions`, at offsets 0, 1, …
fn as_records(commands: &[RemediationCommand]) -> Vec<SourceRecord> {
    commands
        .iter()
        .enumerate()
        .map(|(i, c)| {
            SourceRecord::new(
                "medic.actions",
                0,
                i as i64,
                schemas::encode_record(c).expect("json"),
            )
        })
        .collect()
}

#[test]
fn replayed_commands_are_not_applied_twice() {
    let (commands, _) = issue(&[decision("dec-1", Action::RolloutRestart)]);
    let mut actuator = ActConfig::default()
        .build_actuator()
        .expect("valid")
        .with_clock(now);
    let mut out = Emitter::new();
    let replay = [commands[0].clone(), commands[0].clone()];
    actuator.process_batch(&replay, &mut out);
    let results: Vec<ActionResult> = out.decode_all().expect("results");
    let outcomes: Vec<_> = results.iter().map(|r| r.outcome).collect();
    assert_eq!(outcomes, [ActionOutcome::Logged]);
    assert_eq!(results[0].mode, "log");
    assert_eq!(out.rejections().len(), 1, "the replay is dead-lettered");
    assert_eq!(out.rejections()[0].error.kind, ErrorKind::Rejected);
    assert!(out.rejections()[0].error.reason.contains("replayed"));
    assert_eq!(out.events().get("replayed"), Some(&1));
}

#[test]
fn unsigned_and_altered_commands_are_dead_lettered() {
    let (commands, _) = issue(&[decision("dec-1", Action::RolloutRestart)]);
    let signed: RemediationCommand = schemas::decode_record(&commands[0].payload).expect("command");
    assert!(signed.signature.is_some(), "the issuer signs");
    let mut unsigned = signed.clone();
    unsigned.signature = None;
    unsigned.idempotency_key = "dec-2".into();
    let mut altered = signed.clone();
    altered.action = Action::DrainNode;
    altered.idempotency_key = "dec-3".into();
    let records = as_records(&[unsigned, altered]);
    let mut actuator = ActConfig::default()
        .build_actuator()
        .expect("valid")
        .with_clock(now);
    let mut out = Emitter::new();
    actuator.process_batch(&records, &mut out);
    assert!(out.emitted().is_empty(), "nothing handled");
    let reasons: Vec<_> = out
        .rejections()
        .iter()
        .map(|r| r.error.reason.clone())
        .collect();
    assert!(reasons[0].contains("unsigned"), "{reasons:?}");
    assert!(reasons[1].contains("forged"), "{reasons:?}");
    assert_eq!(out.events().get("forged"), Some(&1));
}

#[test]
fn expired_commands_go_to_the_dead_letter_topic() {
    let (commands, _) = issue(&[decision("dec-1", Action::Rollback)]);
    let mut actuator = ActConfig::default()
        .build_actuator()
        .expect("valid")
        .with_clock(much_later);
    let mut out = Emitter::new();
    actuator.process_batch(&commands, &mut out);
    assert!(out.emitted().is_empty());
    assert_eq!(out.rejections()[0].error.kind, ErrorKind::Expired);
}

#[test]
fn commands_that_overreach_are_refused_before_anything_is_read() {
    // The probes: a far-future expiry, an issue time 31 years ahead, another cluster, and names the API
    // server would read differently from the deny list (`kube%2Dsystem`), all validly signed.
    let keys = ActConfig::default()
        .keys()
        .expect("the process key")
        .signer()
        .expect("signs");
    let command = |id: &str, target: Target| {
        medic_act::direct_command(&keys, id, target, Action::RolloutRestart, 600, "t", "t")
    };
    let resign = |mut c: RemediationCommand| {
        keys.sign(&mut c);
        c
    };
    let issued_now = |c: RemediationCommand| {
        resign(RemediationCommand {
            issued_at_ns: NOW,
            expires_at_ns: NOW + 600_000_000_000,
            ..c
        })
    };
    let forever = resign(RemediationCommand {
        issued_at_ns: NOW,
        expires_at_ns: i64::MAX,
        ..command("forever", Target::deployment("shop", "web"))
    });
    let future = resign(RemediationCommand {
        issued_at_ns: NOW + 31 * 365 * 86_400_000_000_000,
        expires_at_ns: NOW + 31 * 365 * 86_400_000_000_000 + 600_000_000_000,
        ..command("future", Target::deployment("shop", "web"))
    });
    let elsewhere = issued_now(command(
        "elsewhere",
        Target {
            cluster: Some("other".into()),
            ..Target::deployment("shop", "web")
        },
    ));
    let here = |namespace: &str, name: &str| Target {
        cluster: Some("prod-eu".into()),
        ..Target::deployment(namespace, name)
    };
    let encoded = issued_now(command("encoded", here("kube%2Dsystem", "coredns")));
    let upper = issued_now(command("upper", here("Kube-System", "coredns")));
    let unnamed = issued_now(command("unnamed", Target::deployment("shop", "web")));
    let fine = issued_now(command("fine", here("shop", "web")));
    let records = as_records(&[forever, future, elsewhere, encoded, upper, unnamed, fine]);
    let mut actuator = ActConfig {
        cluster: Some("prod-eu".into()),
        ..ActConfig::default()
    }
    .build_actuator()
    .expect("valid")
    .with_clock(now);
    let mut out = Emitter::new();
    actuator.process_batch(&records, &mut out);
    let dead: Vec<(i64, String)> = out
        .rejections()
        .iter()
        .map(|r| (r.coordinates.offset, r.error.reason.clone()))
        .collect();
    assert_eq!(dead.len(), 4, "{dead:?}");
    assert!(dead[0].1.contains("max_command_ttl"), "{dead:?}");
    assert!(dead[1].1.contains("in the future"), "{dead:?}");
    assert!(dead[2].1.contains("cluster"), "{dead:?}");
    // A target that names no cluster, where this actuator acts on prod-eu, is refused too.
    assert_eq!(dead[3].0, 5, "{dead:?}");
    let results: Vec<ActionResult> = out.decode_all().expect("results");
    let refusals: Vec<_> = results
        .iter()
        .map(|r| (r.outcome, r.message.contains("RFC 1123")))
        .collect();
    assert_eq!(
        refusals,
        [
            (ActionOutcome::Rejected, true),
            (ActionOutcome::Rejected, true),
            (ActionOutcome::Logged, false)
        ],
        "names the API server would read differently are rejected; the rest is handled"
    );
}

#[test]
fn the_issuer_signs_no_action_its_target_cannot_take() {
    // The probe: whoever can write medic.decisions asks for a drain of a namespaced "Node", a rollback of a
    // Node, a pod restart that names no pod.
    let with_target = |id: &str, action: Action, target: Target| {
        let mut record = decision(id, action);
        let mut d: Decision = serde_json::from_slice(&record.payload).expect("decision");
        d.target = target;
        record.payload = serde_json::to_vec(&d).expect("encode");
        record
    };
    let namespaced_node = Target {
        namespace: Some("tenant-a".into()),
        ..Target::node("worker-7")
    };
    let (commands, _) = issue(&[
        with_target("d-drain", Action::DrainNode, namespaced_node),
        with_target("d-rollback", Action::Rollback, Target::node("worker-7")),
        with_target(
            "d-restart-pod",
            Action::RestartPod,
            Target::deployment("shop", "web"),
        ),
        with_target("d-cordon", Action::CordonNode, Target::node("worker-7")),
        with_target(
            "d-restart",
            Action::RolloutRestart,
            Target::deployment("shop", "web"),
        ),
    ]);
    let signed: Vec<String> = commands
        .iter()
        .map(|c| {
            schemas::decode_record::<RemediationCommand>(&c.payload)
                .expect("command")
                .command_id
        })
        .collect();
    assert_eq!(signed, ["d-cordon", "d-restart"]);
}
