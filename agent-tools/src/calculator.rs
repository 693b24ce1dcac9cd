//! `calculator`: evaluates an arithmetic expression with meval.
//!
//! The name and the `expression` field are those of the reference agent's calculator, so model
//! outputs recorded against it replay here. Models write Python, so `**` is accepted as power.
//! Input is bounded (length and nesting) before meval sees it, and a result that is not a
//! finite number is an error the model can read, never `nan` passed off as an answer.

use agent_core::{ToolError, tool};

/// Longest expression accepted, in characters.
pub const MAX_EXPRESSION_CHARS: usize = 1_000;
/// Deepest parenthesis nesting accepted.
pub const MAX_NESTING: usize = 64;

/// Evaluates an arithmetic expression and returns `Result: <value>`.
/// Supports + - * / % ^ (or **), parentheses, the functions sqrt, abs, exp, ln,
/// sin, cos, tan, floor, ceil, round, max and min, and the constants pi and e.
#[tool(params(expression = "The expression to evaluate, such as `2+5` or `(7+34)*2`."))]
pub fn calculator(expression: String) -> Result<String, ToolError> {
    Calculator::evaluate(&expression)
}

impl Calculator {
    /// Evaluates `expression`, returning the text the model sees (`Result: 7`).
    pub fn evaluate(expression: &str) -> Result<String, ToolError> {
        let chars = expression.chars().count();
        if chars > MAX_EXPRESSION_CHARS {
            return Err(ToolError::new(format!(
                "the expression is {chars} characters long; at most {MAX_EXPRESSION_CHARS} are allowed"
            )));
        }
        if expression.trim().is_empty() {
            return Err(ToolError::new("the expression is empty"));
        }
        let depth = nesting_depth(expression);
        if depth > MAX_NESTING {
            return Err(ToolError::new(format!(
                "the expression nests parentheses {depth} deep; at most {MAX_NESTING} levels are allowed"
            )));
        }
        let value = meval::eval_str(expression.replace("**", "^"))
            .map_err(|error| ToolError::new(format!("cannot evaluate `{expression}`: {error}")))?;
        if !value.is_finite() {
            return Err(ToolError::new(format!(
                "`{expression}` has no finite value (division by zero or overflow)"
            )));
        }
        Ok(format!("Result: {}", format_number(value)))
    }
}

fn nesting_depth(expression: &str) -> usize {
    let mut depth = 0usize;
    let mut deepest = 0;
    for c in expression.chars() {
        match c {
            '(' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            ')' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// Integers without a fraction, other values to at most 10 decimals, huge ones in e-notation.
fn format_number(value: f64) -> String {
    if value.abs() >= 1e21 {
        return format!("{value:e}");
    }
    let fixed = format!("{value:.10}");
    let trimmed = fixed.trim_end_matches('0').trim_end_matches('.');
    match trimmed {
        "-0" => "0".to_owned(),
        other => other.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(expression: &str) -> String {
        Calculator::evaluate(expression).unwrap()
    }

    fn err(expression: &str) -> String {
        Calculator::evaluate(expression).unwrap_err().to_string()
    }

    #[test]
    fn evaluates_the_tutorial_sums() {
        assert_eq!(ok("2+5"), "Result: 7");
        assert_eq!(ok("7+34"), "Result: 41");
        assert_eq!(ok("41 + 10"), "Result: 51");
    }

    #[test]
    fn formats_integers_and_decimals() {
        assert_eq!(ok("10/4"), "Result: 2.5");
        assert_eq!(ok("1/3"), "Result: 0.3333333333");
        assert_eq!(ok("-3*2"), "Result: -6");
        assert_eq!(ok("-1e-12"), "Result: 0");
        assert_eq!(ok("2^60"), "Result: 1152921504606846976");
        assert_eq!(ok("10^22"), "Result: 1e22");
    }

    #[test]
    fn accepts_python_power_and_functions() {
        assert_eq!(ok("2**10"), "Result: 1024");
        assert_eq!(ok("sqrt(16) + abs(-1)"), "Result: 5");
        assert_eq!(ok("7 % 4"), "Result: 3");
        assert_eq!(ok("floor(2.7) + ceil(2.2) + round(2.5)"), "Result: 8");
        assert_eq!(
            ok("max(1, 9) - min(4, 2) + exp(0) + ln(e) + tan(0) + sin(0) + cos(0)"),
            "Result: 10"
        );
        assert_eq!(ok("2*pi"), "Result: 6.2831853072");
    }

    #[test]
    fn non_finite_results_are_errors() {
        assert_eq!(
            err("1/0"),
            "`1/0` has no finite value (division by zero or overflow)"
        );
        assert!(err("10^400").contains("no finite value"));
        assert!(err("sqrt(-1)").contains("no finite value"));
    }

    #[test]
    fn bad_expressions_are_clear_errors() {
        assert!(
            err("hello").starts_with("cannot evaluate `hello`"),
            "{}",
            err("hello")
        );
        assert!(err("2+").starts_with("cannot evaluate"));
        assert_eq!(err(" "), "the expression is empty");
        assert_eq!(
            err(&"1+".repeat(600)),
            "the expression is 1200 characters long; at most 1000 are allowed"
        );
        let deep = format!("{}1{}", "(".repeat(65), ")".repeat(65));
        assert_eq!(
            err(&deep),
            "the expression nests parentheses 65 deep; at most 64 levels are allowed"
        );
    }

    #[test]
    fn the_largest_accepted_inputs_evaluate_without_trouble() {
        let deep = format!("{}1{}", "(".repeat(64), ")".repeat(64));
        assert_eq!(ok(&deep), "Result: 1");
        let long = format!("1{}", "+1".repeat(499));
        assert_eq!(ok(&long), "Result: 500");
        let unary = format!("{}1", "-".repeat(999));
        assert_eq!(ok(&unary), "Result: -1");
    }
}
