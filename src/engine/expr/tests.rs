//! Unit tests for the retry-delay expression parser and evaluator.

use super::*;

fn parse(src: &str) -> RetryDelayExpr {
    match RetryDelayExpr::parse(src) {
        Ok(e) => e,
        Err(e) => panic!("{src:?} should parse: {e}"),
    }
}

fn err(src: &str) -> ExprError {
    match RetryDelayExpr::parse(src) {
        Ok(e) => panic!("{src:?} should not parse, got {e:?}"),
        Err(e) => e,
    }
}

fn value(src: &str, retried: u32) -> f64 {
    parse(src).eval(f64::from(retried))
}

#[test]
fn documented_examples() {
    let e = parse("1000");
    assert_eq!(e.delay_ms(0), 1000);
    assert_eq!(e.delay_ms(7), 1000);

    let e = parse("1000 * (1 + retried)");
    assert_eq!(e.delay_ms(0), 1000);
    assert_eq!(e.delay_ms(2), 3000);

    let e = parse("pow(2, retried) * 1000");
    assert_eq!(e.delay_ms(0), 1000);
    assert_eq!(e.delay_ms(3), 8000);

    let e = parse("max(1000, pow(2, retried) * 100)");
    assert_eq!(e.delay_ms(0), 1000);
    assert_eq!(e.delay_ms(4), 1600);

    let e = parse("retried*retried*100");
    assert_eq!(e.delay_ms(0), 0);
    assert_eq!(e.delay_ms(3), 900);
}

#[test]
fn every_function() {
    assert_eq!(value("pow(3, 2)", 0), 9.0);
    assert_eq!(value("exp(0)", 0), 1.0);
    assert!((value("exp(1)", 0) - std::f64::consts::E).abs() < 1e-12);
    assert_eq!(value("sqrt(16)", 0), 4.0);
    assert_eq!(value("abs(-5)", 0), 5.0);
    assert_eq!(value("floor(2.7)", 0), 2.0);
    assert_eq!(value("floor(-2.5)", 0), -3.0);
    assert_eq!(value("ceil(2.1)", 0), 3.0);
    assert_eq!(value("round(2.5)", 0), 3.0);
    assert_eq!(value("round(2.4)", 0), 2.0);
    assert_eq!(value("min(3, 2)", 0), 2.0);
    assert_eq!(value("max(3, 2)", 0), 3.0);
}

#[test]
fn names_are_case_insensitive_and_whitespace_is_free() {
    assert_eq!(parse("POW(2,RETRIED)*1000").delay_ms(2), 4000);
    assert_eq!(parse("Max ( 1 , 2 )").delay_ms(0), 2);
    assert_eq!(parse("\t 1000\n*\n( 1+retried ) ").delay_ms(1), 2000);
    assert_eq!(parse("sqrt  (  retried  )").delay_ms(9), 3);
}

#[test]
fn decimals() {
    assert_eq!(value("1.5", 0), 1.5);
    assert_eq!(value(".5 * 4", 0), 2.0);
    assert_eq!(value("1000 * 1.5", 0), 1500.0);
    assert_eq!(parse("0.9").delay_ms(0), 0, "fractional ms are truncated");
    assert_eq!(parse("1999.99").delay_ms(0), 1999);
}

#[test]
fn precedence_and_associativity() {
    assert_eq!(value("1 + 2 * 3", 0), 7.0);
    assert_eq!(value("(1 + 2) * 3", 0), 9.0);
    assert_eq!(value("10 - 4 - 3", 0), 3.0);
    assert_eq!(value("8 / 4 / 2", 0), 1.0);
    assert_eq!(value("2 * 3 + 4 * 5", 0), 26.0);
    assert_eq!(value("20 - 2 * 3", 0), 14.0);
    assert_eq!(value("2 - -3", 0), 5.0);
    assert_eq!(value("--2", 0), 2.0);
    assert_eq!(value("+-+2", 0), -2.0);
    assert_eq!(value("-2 * -3", 0), 6.0);
    assert_eq!(value("-(1 + 2) * 2", 0), -6.0);
    assert_eq!(value("1 + -retried", 4), -3.0);
}

#[test]
fn unary_minus_binds_tighter_than_multiplication() {
    assert_eq!(
        parse("-2 * 3").program,
        vec![Op::Num(2.0), Op::Neg, Op::Num(3.0), Op::Mul]
    );
    assert_eq!(
        parse("1 - 2 * 3").program,
        vec![Op::Num(1.0), Op::Num(2.0), Op::Num(3.0), Op::Mul, Op::Sub]
    );
}

#[test]
fn clamping() {
    assert_eq!(parse("-1000").delay_ms(0), 0);
    assert_eq!(parse("1 / 0").delay_ms(0), MAX_DELAY_MS);
    assert_eq!(parse("-1 / 0").delay_ms(0), 0);
    assert_eq!(parse("0 / 0").delay_ms(0), 0);
    assert_eq!(parse("sqrt(-1)").delay_ms(0), 0);
    assert_eq!(parse("pow(2, retried)").delay_ms(u32::MAX), MAX_DELAY_MS);
    assert_eq!(parse("exp(retried)").delay_ms(1000), MAX_DELAY_MS);
    assert_eq!(parse("31536000000").delay_ms(0), MAX_DELAY_MS);
    assert_eq!(parse("31535999999").delay_ms(0), MAX_DELAY_MS - 1);
    assert_eq!(
        parse("99999999999999999999999999").delay_ms(0),
        MAX_DELAY_MS
    );
    let huge = "9".repeat(400);
    assert_eq!(parse(&huge).delay_ms(0), MAX_DELAY_MS);
    assert_eq!(parse("retried * 1000").delay_ms(u32::MAX), MAX_DELAY_MS);
}

#[test]
fn as_str_display_and_from_str() {
    let e = parse("  pow(2, retried) * 1000 \n");
    assert_eq!(e.as_str(), "pow(2, retried) * 1000");
    assert_eq!(e.to_string(), "pow(2, retried) * 1000");
    let parsed: RetryDelayExpr = match "pow(2, retried) * 1000".parse() {
        Ok(e) => e,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(parsed, e);
    assert_eq!(e.clone(), e);
    assert_ne!(parse("1000"), parse("1001"));
}

#[test]
fn error_messages_name_the_problem_and_position() {
    let cases: &[(&str, &str)] = &[
        ("", "empty expression"),
        ("   ", "empty expression"),
        ("foo(1)", "unknown function 'foo' at position 1"),
        ("1 + foo(1)", "unknown function 'foo' at position 5"),
        (
            "1 + x",
            "unknown variable 'x' at position 5 (only 'retried' is defined)",
        ),
        (
            "pow(2)",
            "wrong number of arguments for pow: expected 2, got 1 at position 1",
        ),
        (
            "1+sqrt(1, 2)",
            "wrong number of arguments for sqrt: expected 1, got 2 at position 3",
        ),
        (
            "max()",
            "wrong number of arguments for max: expected 2, got 0 at position 1",
        ),
        (
            "pow * 2",
            "function 'pow' at position 1 must be followed by '('",
        ),
        (
            "1 +",
            "unexpected end of expression, expected a number, 'retried', a function call or '('",
        ),
        ("(1 + 2", "unexpected end of expression, expected ')'"),
        ("pow(2, 3", "unexpected end of expression, expected ')'"),
        (
            "1 2",
            "unexpected '2' at position 3, expected an operator or the end of the expression",
        ),
        (
            "(1 2)",
            "unexpected '2' at position 4, expected ')' or an operator",
        ),
        (
            "pow(1 2)",
            "unexpected '2' at position 7, expected ',', ')' or an operator",
        ),
        (
            "1 + )",
            "unexpected ')' at position 5, expected a number, 'retried', a function call or '('",
        ),
        (
            "()",
            "unexpected ')' at position 2, expected a number, 'retried', a function call or '('",
        ),
        ("1 % 2", "unexpected character '%' at position 3"),
        ("1 é", "unexpected character 'é' at position 3"),
        ("1.2.3", "invalid number '1.2.3' at position 1"),
        ("10 * 1.", "invalid number '1.' at position 6"),
        ("2 * .", "invalid number '.' at position 5"),
        (
            "retried(1)",
            "unexpected '(' at position 8, expected an operator or the end of the expression",
        ),
        (
            "2retried",
            "unexpected 'retried' at position 2, expected an operator or the end of the expression",
        ),
        (
            "pow(2,,3)",
            "unexpected ',' at position 7, expected a number, 'retried', a function call or '('",
        ),
    ];
    for (src, want) in cases {
        assert_eq!(err(src).to_string(), *want, "input {src:?}");
    }
}

#[test]
fn positions_count_characters_of_the_trimmed_source() {
    assert_eq!(err("   ééé"), ExprError::UnexpectedChar { ch: 'é', pos: 1 });
    assert_eq!(
        err("  1 + bar"),
        ExprError::UnknownVariable {
            name: "bar".into(),
            pos: 5
        }
    );
}

#[test]
fn length_limit() {
    let ok = format!("1{}", "+1".repeat((MAX_EXPR_LEN - 1) / 2));
    assert_eq!(ok.len(), MAX_EXPR_LEN - 1);
    assert_eq!(parse(&ok).delay_ms(0), MAX_EXPR_LEN as u64 / 2);
    let too_long = "1".repeat(MAX_EXPR_LEN + 1);
    assert_eq!(
        err(&too_long),
        ExprError::TooLong {
            len: MAX_EXPR_LEN + 1,
            max: MAX_EXPR_LEN
        }
    );
    assert_eq!(
        err(&too_long).to_string(),
        "expression too long: 1001 characters (at most 1000)"
    );
    // Surrounding whitespace does not count.
    let padded = format!("{}1{}", " ".repeat(2000), " ".repeat(2000));
    assert_eq!(parse(&padded).delay_ms(0), 1);
}

#[test]
fn depth_limit() {
    let nested = |n: usize| format!("{}1{}", "(".repeat(n), ")".repeat(n));
    assert_eq!(parse(&nested(MAX_DEPTH)).delay_ms(0), 1);
    assert_eq!(
        err(&nested(MAX_DEPTH + 1)),
        ExprError::TooDeep {
            max: MAX_DEPTH,
            pos: MAX_DEPTH + 1
        }
    );
    assert_eq!(
        err(&nested(MAX_DEPTH + 1)).to_string(),
        "expression nested too deeply (more than 64 levels) at position 65"
    );
    assert_eq!(parse(&format!("{}1", "-".repeat(MAX_DEPTH))).delay_ms(0), 1);
    assert!(matches!(
        err(&format!("{}1", "-".repeat(MAX_DEPTH + 1))),
        ExprError::TooDeep { .. }
    ));
    let calls = |n: usize| format!("{}1{}", "abs(".repeat(n), ")".repeat(n));
    assert_eq!(parse(&calls(MAX_DEPTH)).delay_ms(0), 1);
    assert!(matches!(
        err(&calls(MAX_DEPTH + 1)),
        ExprError::TooDeep { .. }
    ));
    // Sequential (not nested) groups do not accumulate depth.
    let flat = vec!["(1)"; 200].join("+");
    assert_eq!(parse(&flat).delay_ms(0), 200);
}

#[test]
fn worst_case_inputs_do_not_overflow_the_stack() {
    for unit in ["(", "-", "pow(", "max(1,", "+"] {
        let src = unit.repeat(MAX_EXPR_LEN / unit.len());
        assert!(RetryDelayExpr::parse(&src).is_err(), "{src}");
    }
    let long_chain = format!("1{}", "*1".repeat(499));
    assert_eq!(parse(&long_chain).delay_ms(0), 1);
}

/// Tiny deterministic xorshift generator, so the fuzz loop needs no crates.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn random_inputs_never_panic() {
    let alphabet: Vec<char> = "0123456789+-*/() ,.retriedpowmaxsqrt".chars().collect();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut parsed = 0;
    for _ in 0..100_000 {
        let len = (rng.next() % 24) as usize;
        let src: String = (0..len)
            .map(|_| alphabet[(rng.next() % alphabet.len() as u64) as usize])
            .collect();
        match RetryDelayExpr::parse(&src) {
            Ok(e) => {
                parsed += 1;
                for retried in [0, 1, 7, 1000, u32::MAX] {
                    assert!(e.delay_ms(retried) <= MAX_DELAY_MS);
                }
                assert_eq!(e.as_str(), src.trim());
            }
            Err(e) => assert!(!e.to_string().is_empty()),
        }
    }
    assert!(
        parsed > 0,
        "the generator should hit some valid expressions"
    );
}
