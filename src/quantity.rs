//! Kubernetes resource quantities, parsed exactly.
//!
//! `kube_quantity` parses through an `f64`, so `0.1` and friends are not exact there; this parser follows the
//! grammar of `k8s.io/apimachinery/pkg/api/resource` and keeps the value as a `rust_decimal::Decimal`, so
//! `500m == 0.5`, `1Gi == 1024Mi` and `1e3 == 1k` compare equal without any floating point.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;

/// A parsed quantity: the exact value in base units (cores, bytes) and the spelling it came from.
#[derive(Debug, Clone)]
pub struct Quantity {
    value: Decimal,
    raw: String,
}

/// Why a string is not a Kubernetes quantity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not a Kubernetes quantity: {reason}")]
pub struct QuantityError {
    /// The rejected input.
    pub input: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl Quantity {
    /// The exact value in base units.
    pub fn value(&self) -> Decimal {
        self.value
    }

    /// The spelling from the manifest.
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// `self ÷ other`, `None` when `other` is zero.
    pub fn ratio(&self, other: &Quantity) -> Option<Decimal> {
        self.value.checked_div(other.value)
    }

    /// Parses a quantity given as a YAML/JSON scalar (a string, or a bare number such as `cpu: 1`).
    pub fn from_json(value: &serde_json::Value) -> Result<Quantity, QuantityError> {
        match value {
            serde_json::Value::String(s) => s.parse(),
            serde_json::Value::Number(n) => n.to_string().parse(),
            _ => Err(QuantityError {
                input: value.to_string(),
                reason: "expected a string or a number",
            }),
        }
    }
}

impl PartialEq for Quantity {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}
impl Eq for Quantity {}
impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Quantity {
    fn cmp(&self, other: &Self) -> Ordering {
        self.value.cmp(&other.value)
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl FromStr for Quantity {
    type Err = QuantityError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let err = |reason| QuantityError {
            input: input.to_string(),
            reason,
        };
        let s = input.trim();
        if s.is_empty() {
            return Err(err("empty"));
        }
        let number_end = s
            .char_indices()
            .find(|&(i, c)| !(c.is_ascii_digit() || c == '.' || (i == 0 && (c == '+' || c == '-'))))
            .map_or(s.len(), |(i, _)| i);
        let (number, suffix) = s.split_at(number_end);
        let digits = number.trim_start_matches(['+', '-']);
        if digits.is_empty() || digits == "." || digits.matches('.').count() > 1 {
            return Err(err("missing or malformed number"));
        }
        // Decimal does not take "5." or ".5"; both are valid quantities.
        let normalised = format!(
            "{}{}{}",
            if number.starts_with('-') { "-" } else { "" },
            if digits.starts_with('.') { "0" } else { "" },
            digits.trim_end_matches('.')
        );
        let mantissa =
            Decimal::from_str_exact(&normalised).map_err(|_| err("number out of range"))?;
        let value = match suffix {
            "" => Some(mantissa),
            "Ki" => mantissa.checked_mul(Decimal::from(1u64 << 10)),
            "Mi" => mantissa.checked_mul(Decimal::from(1u64 << 20)),
            "Gi" => mantissa.checked_mul(Decimal::from(1u64 << 30)),
            "Ti" => mantissa.checked_mul(Decimal::from(1u64 << 40)),
            "Pi" => mantissa.checked_mul(Decimal::from(1u64 << 50)),
            "Ei" => mantissa.checked_mul(Decimal::from(1u64 << 60)),
            "n" => scale10(mantissa, -9),
            "u" => scale10(mantissa, -6),
            "m" => scale10(mantissa, -3),
            "k" => scale10(mantissa, 3),
            "M" => scale10(mantissa, 6),
            "G" => scale10(mantissa, 9),
            "T" => scale10(mantissa, 12),
            "P" => scale10(mantissa, 15),
            "E" => scale10(mantissa, 18),
            exp if exp.starts_with(['e', 'E']) => {
                let e: i32 = exp[1..].parse().map_err(|_| err("malformed exponent"))?;
                scale10(mantissa, e)
            }
            _ => return Err(err("unknown suffix")),
        }
        .ok_or_else(|| err("value out of range"))?;
        Ok(Quantity {
            value: value.normalize(),
            raw: s.to_string(),
        })
    }
}

fn scale10(mantissa: Decimal, exp: i32) -> Option<Decimal> {
    if exp.unsigned_abs() > 28 {
        return None;
    }
    let factor = Decimal::from_i128_with_scale(10i128.pow(exp.unsigned_abs()), 0);
    if exp >= 0 {
        mantissa.checked_mul(factor)
    } else {
        mantissa.checked_div(factor)
    }
}

/// Rounds a ratio for display: `4`, `2.5`, `0.33`.
pub fn show_ratio(r: Decimal) -> String {
    r.round_dp(2).normalize().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Quantity {
        s.parse().expect("valid quantity")
    }

    #[test]
    fn equal_spellings_compare_equal() {
        assert_eq!(q("500m"), q("0.5"));
        assert_eq!(q("1Gi"), q("1024Mi"));
        assert_eq!(q("1e3"), q("1k"));
        assert_eq!(q("1E3"), q("1000"));
        assert_eq!(q(".5"), q("500m"));
        assert_eq!(q("2."), q("2"));
        assert_eq!(q("0.1"), q("100m"));
        assert_eq!(q("129e6"), q("129M"));
        assert_eq!(q("1Ki"), q("1024"));
        assert_eq!(q("1Ei").value(), Decimal::from(1u64 << 60));
        assert_eq!(q("100n"), q("0.0000001"));
    }

    #[test]
    fn order_and_ratio_are_exact() {
        assert!(q("2Gi") > q("512Mi"));
        assert_eq!(q("2Gi").ratio(&q("512Mi")), Some(Decimal::from(4)));
        assert_eq!(
            q("250m").ratio(&q("1")),
            Some(Decimal::from_str_exact("0.25").expect("dec"))
        );
        assert_eq!(q("1").ratio(&q("0")), None);
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["", "Gi", "1.2.3", "12Gb", "1e", "abc", "1 Gi x", "-"] {
            assert!(bad.parse::<Quantity>().is_err(), "{bad} should fail");
        }
    }

    #[test]
    fn numbers_from_yaml() {
        assert_eq!(
            Quantity::from_json(&serde_json::json!(1)).expect("n"),
            q("1000m")
        );
        assert_eq!(
            Quantity::from_json(&serde_json::json!(0.5)).expect("n"),
            q("500m")
        );
    }
}
