import { formatPrice } from "./format";
import type { Product } from "./product";

export interface CartLine {
  product: Product;
  quantity: number;
}

const MAX_QUANTITY = 99;

export function clampQuantity(quantity: number): number {
  return Math.max(0, Math.min(MAX_QUANTITY, quantity));
}

export class Cart {
  private lines: CartLine[] = [];

  add(product: Product, quantity: number): void {
    const existing = this.lines.find((line) => line.product.id === product.id);
    if (existing) {
      existing.quantity = clampQuantity(existing.quantity + quantity);
    } else {
      this.lines.push({ product, quantity: clampQuantity(quantity) });
    }
  }

  summary(): string {
    return this.lines.map((line) => `${line.product.name} ${formatPrice(line.product.price)}`).join("\n");
  }
}
