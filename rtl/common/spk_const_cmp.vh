// Compares against a constant as plain logic, for the UP5K build (docs/fpga.md, "Fit"): yosys
// maps every $gt/$ge/$lt to a carry chain, one logic cell per bit even when one side is a
// constant; written bit by bit, the constant folds away and abc packs what is left into a few
// LUTs. Same results as `>` and `>=` on unsigned operands of up to 32 bits (zero-extended).
// Included inside a module (the locals have prefixed names so that they hide nothing there).
function spk_gt_const;  // x > c
    input [31:0] x;
    input [31:0] c;
    integer cmp_b;
    reg     cmp_gt;  // x > c over bits cmp_b-1..0
    begin
        cmp_gt = 1'b0;
        for (cmp_b = 0; cmp_b < 32; cmp_b = cmp_b + 1)
            cmp_gt = (x[cmp_b] & ~c[cmp_b]) | (~(x[cmp_b] ^ c[cmp_b]) & cmp_gt);
        spk_gt_const = cmp_gt;
    end
endfunction

function spk_ge_const;  // x >= c: not c > x (the loop folds a constant on either side)
    input [31:0] x;
    input [31:0] c;
    begin
        spk_ge_const = !spk_gt_const(c, x);
    end
endfunction
