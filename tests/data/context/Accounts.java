package com.example.bank;

import java.math.BigDecimal;
import java.util.HashMap;
import java.util.Map;

public class Accounts {
    private final Map<String, BigDecimal> balances = new HashMap<>();

    public void deposit(String id, BigDecimal amount) {
        requirePositive(amount);
        balances.merge(id, amount, BigDecimal::add);
    }

    private static void requirePositive(BigDecimal amount) {
        if (amount.signum() <= 0) {
            throw new IllegalArgumentException("amount must be positive");
        }
    }
}
