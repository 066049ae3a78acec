use super::*;

fn sample() -> RunOutput {
    let mut scalars = Values::new();
    scalars.insert("test_acc".into(), f64::NAN);
    scalars.insert("loss".into(), f64::INFINITY);
    scalars.insert("grad".into(), f64::NEG_INFINITY);
    scalars.insert("wall".into(), 1.5);
    RunOutput {
        scalars: scalars.clone(),
        epochs: vec![EpochRow {
            epoch: 3,
            values: scalars,
        }],
        trajectories: vec![TrajectoryRow {
            probe: 0,
            condition: "10".into(),
            steps: 2,
            units: 3,
            states: vec![0.0, f32::NAN, 1.0, f32::INFINITY, -2.0, 3.0],
        }],
        weights: vec![WeightMatrix::new("rec", 1, 2, vec![f32::NEG_INFINITY, 0.5])],
        ..RunOutput::default()
    }
}

/// Bit-exact comparison, since NaN != NaN.
fn bits(o: &RunOutput) -> Vec<u64> {
    let mut v: Vec<u64> = o.scalars.values().map(|x| x.to_bits()).collect();
    v.extend(
        o.epochs
            .iter()
            .flat_map(|e| e.values.values().map(|x| x.to_bits())),
    );
    v.extend(
        o.trajectories
            .iter()
            .flat_map(|t| t.states.iter().map(|x| x.to_bits() as u64)),
    );
    v.extend(
        o.weights
            .iter()
            .flat_map(|w| w.values.iter().map(|x| x.to_bits() as u64)),
    );
    v
}

#[test]
fn nan_and_infinities_round_trip_bit_for_bit() {
    let out = sample();
    let bytes = validate(Some(to_wire(&out)), DEFAULT_MAX_RESULT_BYTES).unwrap();
    let back = decode(&bytes, DEFAULT_MAX_RESULT_BYTES).unwrap();
    assert_eq!(bits(&back), bits(&out));
    assert!(back.scalars["test_acc"].is_nan());
    assert_eq!(back.scalars["grad"], f64::NEG_INFINITY);
}

#[test]
fn empty_output_round_trips_and_missing_is_refused() {
    let bytes = validate(Some(to_wire(&RunOutput::default())), 16).unwrap();
    assert_eq!(decode(&bytes, 16).unwrap(), RunOutput::default());
    assert_eq!(validate(None, 16), Err(WireError::Missing));
}

#[test]
fn oversized_results_are_refused_before_decoding() {
    let msg = to_wire(&sample());
    let len = msg.encoded_len();
    assert!(matches!(
        validate(Some(msg.clone()), len - 1),
        Err(WireError::TooLarge { .. })
    ));
    let bytes = msg.encode_to_vec();
    assert!(matches!(
        decode(&bytes, len - 1),
        Err(WireError::TooLarge { .. })
    ));
}

#[test]
fn mismatched_dimensions_are_refused() {
    let mut msg = to_wire(&sample());
    msg.weights[0].cols = 3;
    assert!(matches!(
        validate(Some(msg), DEFAULT_MAX_RESULT_BYTES),
        Err(WireError::Dims {
            what: "weights",
            ..
        })
    ));
    let mut msg = to_wire(&sample());
    // u32::MAX * u32::MAX must not wrap to a plausible length.
    msg.trajectories[0].steps = u32::MAX;
    msg.trajectories[0].units = u32::MAX;
    assert!(matches!(
        validate(Some(msg), DEFAULT_MAX_RESULT_BYTES),
        Err(WireError::Dims {
            what: "trajectory",
            ..
        })
    ));
}

#[test]
fn empty_and_overlong_names_are_refused() {
    let mut msg = to_wire(&sample());
    msg.scalars.insert(String::new(), 1.0);
    assert!(matches!(
        validate(Some(msg), DEFAULT_MAX_RESULT_BYTES),
        Err(WireError::BadName { .. })
    ));
    let mut msg = to_wire(&sample());
    msg.weights[0].layer = "x".repeat(MAX_NAME_LEN + 1);
    assert!(matches!(
        validate(Some(msg), DEFAULT_MAX_RESULT_BYTES),
        Err(WireError::BadName { .. })
    ));
}

#[test]
fn garbage_bytes_do_not_decode() {
    assert!(matches!(
        decode(&[0xff, 0xff, 0xff], DEFAULT_MAX_RESULT_BYTES),
        Err(WireError::Decode(_))
    ));
}
