// Compare-and-release engine (docs/comparator.md): per-flow FIFOs of held
// primary events and pending secondary records in two linked pools, a
// fully associative flow table, timeouts by a sweep over the flows, and
// ReleaseAll by a walk over them. One operation per clock; verdicts leave
// through m_vd_* (also the source of the packet buffer's release commands).
`resetall
`timescale 1ns / 1ps
`default_nettype none

module ts_compare #(
    parameter integer FLOWS = 256,    // flows with anything held or pending (hardware bound)
    parameter integer EVENTS = 1024,  // held events (hardware bound, power of two)
    parameter integer RECORDS = 1024  // pending records (hardware bound, power of two)
) (
    input  wire          clk,
    input  wire          rst,
    input  wire          cfg_solo,        // release every event at once (no peer)
    input  wire [63:0]   cfg_timeout_ns,
    input  wire [31:0]   cfg_max_held,    // runtime bounds, clamped to the hardware's
    input  wire [31:0]   cfg_max_records,
    input  wire [31:0]   cfg_max_flows,
    input  wire [63:0]   now_ns,
    input  wire          cmd_release_all,
    input  wire          cmd_sweep,       // report timeouts as of now_ns
    // events: the digest of one primary frame and where its bytes are held
    input  wire          ev_valid,
    output wire          ev_ready,
    input  wire [63:0]   ev_flow,
    input  wire [63:0]   ev_out_seq,
    input  wire [31:0]   ev_len,
    input  wire [63:0]   ev_digest,
    input  wire [31:0]   ev_id,           // names the event in verdicts
    input  wire [15:0]   ev_buf,          // packet buffer descriptor
    input  wire          ev_nobuf,        // the packet buffer had no room for it
    // records from the secondary
    input  wire          rec_valid,
    output wire          rec_ready,
    input  wire [63:0]   rec_flow,
    input  wire [63:0]   rec_out_seq,
    input  wire [31:0]   rec_len,
    input  wire [63:0]   rec_digest,
    // verdicts: {kind[2:0], has_event, id, buf, flow, out_seq, len, pdigest, sdigest}
    output wire          m_vd_valid,
    input  wire          m_vd_ready,
    output wire [339:0]  m_vd_data,
    output wire          busy,
    output wire [64*9-1:0] stat_counters  // comparator.h ComparatorCounters, in order
);
    initial begin
        if (FLOWS < 2 || (EVENTS & (EVENTS - 1)) != 0 || (RECORDS & (RECORDS - 1)) != 0) begin
            $error("ts_compare: FLOWS >= 2, EVENTS and RECORDS powers of two");
            $finish;
        end
    end
    localparam integer FW = $clog2(FLOWS);
    localparam integer EW = $clog2(EVENTS);
    localparam integer RW = $clog2(RECORDS);
    localparam [2:0] K_RELEASE = 3'd1, K_MISMATCH = 3'd2, K_MISSING = 3'd3, K_OVERFLOW = 3'd4;

    // Flow table.
    reg [FLOWS-1:0] f_used_reg = 0, f_div_reg = 0, f_ev_reg = 0, f_rec_reg = 0;
    reg [63:0]   f_id_reg   [0:FLOWS-1];
    reg [EW-1:0] f_evh_reg  [0:FLOWS-1];
    reg [EW-1:0] f_evt_reg  [0:FLOWS-1];
    reg [RW-1:0] f_rch_reg  [0:FLOWS-1];
    reg [RW-1:0] f_rct_reg  [0:FLOWS-1];
    reg [FW:0]   f_count_reg = 0;
    // Event pool.
    reg [EW-1:0] e_next_reg [0:EVENTS-1];
    reg [63:0]   e_seq_reg  [0:EVENTS-1];
    reg [31:0]   e_len_reg  [0:EVENTS-1];
    reg [63:0]   e_dig_reg  [0:EVENTS-1];
    reg [31:0]   e_id_reg   [0:EVENTS-1];
    reg [15:0]   e_buf_reg  [0:EVENTS-1];
    reg [63:0]   e_time_reg [0:EVENTS-1];
    reg [EW:0]   e_used_reg = 0, e_fresh_reg = 0;
    // Record pool.
    reg [RW-1:0] r_next_reg [0:RECORDS-1];
    reg [63:0]   r_seq_reg  [0:RECORDS-1];
    reg [31:0]   r_len_reg  [0:RECORDS-1];
    reg [63:0]   r_dig_reg  [0:RECORDS-1];
    reg [63:0]   r_time_reg [0:RECORDS-1];
    reg [RW:0]   r_used_reg = 0, r_fresh_reg = 0;
    // Freed pool entries wait in these rings to be taken again.
    reg [EW-1:0] e_free_mem [0:EVENTS-1];
    reg [RW-1:0] r_free_mem [0:RECORDS-1];
    reg [EW:0]   e_free_wp_reg = 0, e_free_rp_reg = 0;
    reg [RW:0]   r_free_wp_reg = 0, r_free_rp_reg = 0;
    wire e_free_empty = e_free_wp_reg == e_free_rp_reg;
    wire r_free_empty = r_free_wp_reg == r_free_rp_reg;
    wire [EW-1:0] e_free_head = e_free_mem[e_free_rp_reg[EW-1:0]];
    wire [RW-1:0] r_free_head = r_free_mem[r_free_rp_reg[RW-1:0]];

    // The runtime bounds clamped to the hardware's, registered (they change
    // only by a register write, between traffic).
    reg [31:0] max_held = EVENTS, max_recs = RECORDS, max_flows = FLOWS;
    always @(posedge clk) begin
        max_held <= (cfg_max_held == 0 || cfg_max_held > EVENTS) ? EVENTS : cfg_max_held;
        max_recs <= (cfg_max_records == 0 || cfg_max_records > RECORDS) ? RECORDS : cfg_max_records;
        max_flows <= (cfg_max_flows == 0 || cfg_max_flows > FLOWS) ? FLOWS : cfg_max_flows;
    end

    // Verdict queue: an operation is issued only when it has room.
    localparam integer VD_LOG2 = 4;
    reg [339:0] vd_mem [0:(1<<VD_LOG2)-1];
    reg [VD_LOG2:0] vd_wp_reg = 0, vd_rp_reg = 0;
    wire vd_empty = vd_wp_reg == vd_rp_reg;
    wire [VD_LOG2:0] vd_count = vd_wp_reg - vd_rp_reg;
    wire vd_full = vd_count[VD_LOG2];
    assign m_vd_valid = !vd_empty;
    assign m_vd_data = vd_mem[vd_rp_reg[VD_LOG2-1:0]];

    // Input stage: one event and one record wait here, each with its flow
    // lookup done the clock it arrived, so the engine's clock starts from a
    // registered slot instead of the 64-bit compares over every flow. A
    // waiting entry's lookup is kept current: `hit`/`idx` hold it as of the
    // table before the previous operation, `eqf` (its flow is that
    // operation's) and `eqs` (its slot is that operation's) say how that
    // operation changed it, and `last_*` what the operation did.
    reg          qe_valid_reg = 0, qr_valid_reg = 0;
    reg  [63:0]  qe_flow_reg, qe_out_seq_reg, qe_digest_reg;
    reg  [31:0]  qe_len_reg, qe_id_reg;
    reg  [15:0]  qe_buf_reg;
    reg          qe_nobuf_reg;
    reg  [63:0]  qr_flow_reg, qr_out_seq_reg, qr_digest_reg;
    reg  [31:0]  qr_len_reg;
    // The staged event as a verdict names it: {id, buf, flow, out_seq, len, pdigest}.
    wire [271:0] qe_vd = {qe_id_reg, qe_buf_reg, qe_flow_reg, qe_out_seq_reg, qe_len_reg, qe_digest_reg};
    reg          qe_hit_reg, qe_eqf_reg, qe_eqs_reg, qr_hit_reg, qr_eqf_reg, qr_eqs_reg;
    reg  [FW-1:0] qe_idx_reg, qr_idx_reg;
    reg          last_ins_reg = 0, last_free_reg = 0, last_clear_reg = 0;  // the previous operation took,
    reg  [FW-1:0] last_slot_reg = 0;                                       // freed, or cleared slots
    // {hit, idx} of a staged entry as of now: the previous operation took a
    // slot for its flow, or forgot its slot, or cleared the table.
    function automatic [FW:0] lookup_now(input hit_reg, input [FW-1:0] idx_reg, input eqf, input eqs);
        lookup_now = (last_ins_reg && eqf) ? {1'b1, last_slot_reg}
                                           : {hit_reg && !(last_free_reg && eqs) && !last_clear_reg, idx_reg};
    endfunction
    wire          qe_hit, qr_hit;
    wire [FW-1:0] qe_idx, qr_idx;
    assign {qe_hit, qe_idx} = lookup_now(qe_hit_reg, qe_idx_reg, qe_eqf_reg, qe_eqs_reg);
    assign {qr_hit, qr_idx} = lookup_now(qr_hit_reg, qr_idx_reg, qr_eqf_reg, qr_eqs_reg);

    // Which operation runs this clock. ReleaseAll starts once the input stage
    // is empty and takes no input until it is done.
    reg ra_active_reg = 0, sweep_active_reg = 0;
    reg [FW-1:0] walk_reg = 0;  // flow slot visited by ReleaseAll or the sweep
    wire staged = qe_valid_reg || qr_valid_reg;
    wire op_ra = ra_active_reg && !staged && !vd_full;
    wire op_ev = qe_valid_reg && !vd_full;
    wire op_rec = !qe_valid_reg && qr_valid_reg && !vd_full;
    wire op_sweep = !ra_active_reg && !staged && sweep_active_reg && !vd_full;
    wire take_ev = ev_valid && (!qe_valid_reg || op_ev) && !ra_active_reg;
    wire take_rec = rec_valid && (!qr_valid_reg || op_rec) && !ra_active_reg && !take_ev;
    assign ev_ready = take_ev;
    assign rec_ready = take_rec;
    assign busy = ra_active_reg || sweep_active_reg || staged || !vd_empty || cmd_release_all || cmd_sweep;

    // Flow lookup for the arriving event or record (one a clock). Flows are
    // unique in the table, so the hit's index is the OR of the matching
    // positions.
    wire [63:0] in_flow = take_ev ? ev_flow : rec_flow;
    reg in_hit;
    reg [FW-1:0] in_idx;
    always @* begin : p_lookup
        integer i;
        in_hit = 1'b0;
        in_idx = 0;
        for (i = 0; i < FLOWS; i = i + 1) begin
            if (f_used_reg[i] && f_id_reg[i] == in_flow) begin
                in_hit = 1'b1;
                in_idx = in_idx | i[FW-1:0];
            end
        end
    end

    // A free slot for a new flow. Any free slot will do (a slot's number is
    // never seen outside), so the search runs a clock ahead, off the engine's
    // path: the lowest and the highest free slot of the table as it is now
    // are registered, and next clock the engine takes one the operation in
    // between did not take, or else the slot it freed (the table was full;
    // after a clear any slot is free). In groups of 16: two 16-way priority
    // steps, not one 256-long chain.
    localparam integer FG = (FLOWS + 15) / 16;
    wire [FG*16-1:0] used_pad = {{(FG*16-FLOWS){1'b1}}, f_used_reg};
    reg [FG-1:0]  group_free;
    reg [15:0]    lo_bits, hi_bits;
    reg [FW-1:0]  free_lo, free_hi;
    reg [FW-1:0]  free_lo_reg = 0, free_hi_reg = 0;
    reg           free_any_reg = 0;
    always @* begin : p_free
        integer i, g, glo, ghi;
        for (g = 0; g < FG; g = g + 1) group_free[g] = ~&used_pad[16*g +: 16];
        glo = 0;
        ghi = 0;
        for (g = FG - 1; g >= 0; g = g - 1) if (group_free[g]) glo = g;
        for (g = 0; g < FG; g = g + 1) if (group_free[g]) ghi = g;
        lo_bits = ~used_pad[16*glo +: 16];
        hi_bits = ~used_pad[16*ghi +: 16];
        free_lo = 0;
        free_hi = 0;
        for (i = 15; i >= 0; i = i - 1) if (lo_bits[i]) free_lo = glo * 16 + i;
        for (i = 0; i < 16; i = i + 1) if (hi_bits[i]) free_hi = ghi * 16 + i;
    end
    always @(posedge clk) begin
        free_lo_reg <= free_lo;
        free_hi_reg <= free_hi;
        free_any_reg <= |group_free;
    end
    wire [FW-1:0] free_idx = (free_any_reg && !(last_ins_reg && last_slot_reg == free_lo_reg)) ? free_lo_reg :
                             (free_any_reg && !(last_ins_reg && last_slot_reg == free_hi_reg)) ? free_hi_reg :
                             last_slot_reg;
    wire          hit = qe_valid_reg ? qe_hit : qr_hit;      // the operation's flow, as of now
    wire [FW-1:0] hit_idx = qe_valid_reg ? qe_idx : qr_idx;

    reg [63:0] c_events_reg = 0, c_records_reg = 0, c_rel_match_reg = 0, c_rel_ckpt_reg = 0, c_mismatch_reg = 0,
               c_miss_rec_reg = 0, c_miss_ev_reg = 0, c_overflow_reg = 0, c_ignored_reg = 0;
    assign stat_counters = {c_ignored_reg, c_overflow_reg, c_miss_ev_reg, c_miss_rec_reg, c_mismatch_reg,
                            c_rel_ckpt_reg, c_rel_match_reg, c_records_reg, c_events_reg};

    // Entries that arrived at or before `deadline` have timed out. Registered:
    // the 64-bit subtraction is off the sweep's clock, and a sweep starts at
    // least a clock after its command, so it sees the time the command did.
    reg  [63:0] deadline_reg = 0;
    reg         deadline_ok_reg = 0;
    always @(posedge clk) begin
        deadline_reg <= now_ns - cfg_timeout_ns;
        deadline_ok_reg <= now_ns >= cfg_timeout_ns;
    end

    // Every operation reads the flow table at one slot (the lookup's hit, or the
    // walk's) and each pool at that flow's head: one read port per memory.
    wire [FW-1:0] s_rd = staged ? hit_idx : walk_reg;
    wire [EW-1:0] f_evh_q = f_evh_reg[s_rd], f_evt_q = f_evt_reg[s_rd];
    wire [RW-1:0] f_rch_q = f_rch_reg[s_rd], f_rct_q = f_rct_reg[s_rd];
    wire [63:0]   f_id_q = f_id_reg[s_rd];
    wire [EW-1:0] e_next_q = e_next_reg[f_evh_q];
    wire [63:0]   e_seq_q = e_seq_reg[f_evh_q], e_dig_q = e_dig_reg[f_evh_q], e_time_q = e_time_reg[f_evh_q];
    wire [31:0]   e_len_q = e_len_reg[f_evh_q], e_id_q = e_id_reg[f_evh_q];
    wire [15:0]   e_buf_q = e_buf_reg[f_evh_q];
    wire [RW-1:0] r_next_q = r_next_reg[f_rch_q];
    wire [63:0]   r_seq_q = r_seq_reg[f_rch_q], r_dig_q = r_dig_reg[f_rch_q], r_time_q = r_time_reg[f_rch_q];
    wire [31:0]   r_len_q = r_len_reg[f_rch_q];

    // Per-flow bits are written at slot s by a compare with each constant
    // position: Yosys lowers `v[s] <= ...` to a shift by -s, a 32-bit
    // negation in carry logic that headed the engine's longest path.
    integer fk;
    always @(posedge clk) begin : p_engine
        reg [FW-1:0] s;
        reg [EW-1:0] e;
        reg [RW-1:0] r;
        reg          known, can_take, took, freed;
        reg  [63:0]  op_flow;
        reg          vd_push, e_free_push, e_free_pop, r_free_push, r_free_pop, pools_clear;
        reg  [339:0] vd_in;
        reg  [EW-1:0] e_free_in;
        reg  [RW-1:0] r_free_in;
        vd_push = 1'b0;
        vd_in = 340'd0;
        e_free_push = 1'b0; e_free_pop = 1'b0; r_free_push = 1'b0; r_free_pop = 1'b0;
        e_free_in = 0; r_free_in = 0;
        pools_clear = 1'b0;
        s = hit_idx;
        e = 0;
        r = 0;
        known = hit;
        can_take = 1'b0;
        took = 1'b0;
        freed = 1'b0;

        if (op_ev) begin
            c_events_reg <= c_events_reg + 1;
            if (cfg_solo) begin
                vd_push = 1'b1;
                vd_in = {K_RELEASE, 1'b1, qe_vd, 64'd0};
                c_rel_match_reg <= c_rel_match_reg + 1;
            end else if (!hit && {{(31-FW){1'b0}}, f_count_reg} >= max_flows) begin
                vd_push = 1'b1;
                vd_in = {K_OVERFLOW, 1'b1, qe_vd, 64'd0};
                c_overflow_reg <= c_overflow_reg + 1;
            end else begin
                if (!hit) begin
                    s = free_idx;
                    for (fk = 0; fk < FLOWS; fk = fk + 1) if (s == fk) f_used_reg[fk] <= 1'b1;
                    f_id_reg[s] <= qe_flow_reg;
                    for (fk = 0; fk < FLOWS; fk = fk + 1) if (s == fk) f_div_reg[fk] <= 1'b0;
                    for (fk = 0; fk < FLOWS; fk = fk + 1) if (s == fk) f_ev_reg[fk] <= 1'b0;
                    for (fk = 0; fk < FLOWS; fk = fk + 1) if (s == fk) f_rec_reg[fk] <= 1'b0;
                    f_count_reg <= f_count_reg + 1'b1;
                    took = 1'b1;
                end
                // A free event slot, if the bounds allow one.
                can_take = !qe_nobuf_reg && {{(31-EW){1'b0}}, e_used_reg} < max_held &&
                           (!e_free_empty || e_fresh_reg < EVENTS);
                e = !e_free_empty ? e_free_head : e_fresh_reg[EW-1:0];
                if (known && !f_div_reg[s] && f_rec_reg[s]) begin
                    r = f_rch_q;
                    r_free_push = 1'b1;
                    r_free_in = r;
                    r_used_reg <= r_used_reg - 1'b1;
                    if (r == f_rct_q) begin
                        for (fk = 0; fk < FLOWS; fk = fk + 1) if (s == fk) f_rec_reg[fk] <= 1'b0;
                    end else f_rch_reg[s] <= r_next_q;
                    if (!qe_nobuf_reg && qe_out_seq_reg == r_seq_q && qe_len_reg == r_len_q && qe_digest_reg == r_dig_q) begin
                        vd_push = 1'b1;
                        vd_in = {K_RELEASE, 1'b1, qe_vd, r_dig_q};
                        c_rel_match_reg <= c_rel_match_reg + 1;
                        if (r == f_rct_q && !f_ev_reg[s]) begin  // nothing left: forget the flow
                            for (fk = 0; fk < FLOWS; fk = fk + 1) if (s == fk) f_used_reg[fk] <= 1'b0;
                            f_count_reg <= f_count_reg - 1'b1;
                            freed = 1'b1;
                        end
                    end else begin
                        vd_push = 1'b1;
                        for (fk = 0; fk < FLOWS; fk = fk + 1) if (s == fk) f_div_reg[fk] <= 1'b1;
                        if (can_take) begin
                            vd_in = {K_MISMATCH, 1'b1, qe_vd, r_dig_q};
                            c_mismatch_reg <= c_mismatch_reg + 1;
                        end else begin
                            vd_in = {K_OVERFLOW, 1'b1, qe_vd, r_dig_q};
                            c_overflow_reg <= c_overflow_reg + 1;
                        end
                    end
                end else begin
                    if (!can_take) begin
                        vd_push = 1'b1;
                        vd_in = {K_OVERFLOW, 1'b1, qe_vd, 64'd0};
                        c_overflow_reg <= c_overflow_reg + 1;
                        for (fk = 0; fk < FLOWS; fk = fk + 1) if (s == fk) f_div_reg[fk] <= 1'b1;
                    end
                end
                // Hold the event unless it was released or overflowed.
                if (can_take && !(vd_push && (vd_in[339:337] == K_RELEASE || vd_in[339:337] == K_OVERFLOW))) begin
                    if (!e_free_empty) e_free_pop = 1'b1;
                    else e_fresh_reg <= e_fresh_reg + 1'b1;
                    e_used_reg <= e_used_reg + 1'b1;
                    e_seq_reg[e] <= qe_out_seq_reg;
                    e_len_reg[e] <= qe_len_reg;
                    e_dig_reg[e] <= qe_digest_reg;
                    e_id_reg[e] <= qe_id_reg;
                    e_buf_reg[e] <= qe_buf_reg;
                    e_time_reg[e] <= now_ns;
                    if (known && f_ev_reg[s]) e_next_reg[f_evt_q] <= e;
                    else f_evh_reg[s] <= e;
                    f_evt_reg[s] <= e;
                    for (fk = 0; fk < FLOWS; fk = fk + 1) if (s == fk) f_ev_reg[fk] <= 1'b1;
                end
            end
        end

        if (op_rec) begin
            c_records_reg <= c_records_reg + 1;
            if (!hit && {{(31-FW){1'b0}}, f_count_reg} >= max_flows) begin
                vd_push = 1'b1;
                vd_in = {K_OVERFLOW, 1'b0, 32'd0, 16'd0, qr_flow_reg, qr_out_seq_reg, qr_len_reg, 64'd0, qr_digest_reg};
                c_overflow_reg <= c_overflow_reg + 1;
            end else begin
                if (!hit) begin
                    s = free_idx;
                    for (fk = 0; fk < FLOWS; fk = fk + 1) if (s == fk) f_used_reg[fk] <= 1'b1;
                    f_id_reg[s] <= qr_flow_reg;
                    for (fk = 0; fk < FLOWS; fk = fk + 1) if (s == fk) f_div_reg[fk] <= 1'b0;
                    for (fk = 0; fk < FLOWS; fk = fk + 1) if (s == fk) f_ev_reg[fk] <= 1'b0;
                    for (fk = 0; fk < FLOWS; fk = fk + 1) if (s == fk) f_rec_reg[fk] <= 1'b0;
                    f_count_reg <= f_count_reg + 1'b1;
                    took = 1'b1;
                end
                if (known && f_div_reg[s]) begin
                    c_ignored_reg <= c_ignored_reg + 1;
                end else if (known && f_ev_reg[s]) begin
                    e = f_evh_q;
                    vd_push = 1'b1;
                    if (e_seq_q == qr_out_seq_reg && e_len_q == qr_len_reg && e_dig_q == qr_digest_reg) begin
                        vd_in = {K_RELEASE, 1'b1, e_id_q, e_buf_q, qr_flow_reg, e_seq_q, e_len_q,
                                 e_dig_q, qr_digest_reg};
                        c_rel_match_reg <= c_rel_match_reg + 1;
                        e_free_push = 1'b1;
                        e_free_in = e;
                        e_used_reg <= e_used_reg - 1'b1;
                        if (e == f_evt_q) begin
                            for (fk = 0; fk < FLOWS; fk = fk + 1) if (s == fk) f_ev_reg[fk] <= 1'b0;
                            if (!f_rec_reg[s]) begin
                                for (fk = 0; fk < FLOWS; fk = fk + 1) if (s == fk) f_used_reg[fk] <= 1'b0;
                                f_count_reg <= f_count_reg - 1'b1;
                                freed = 1'b1;
                            end
                        end else begin
                            f_evh_reg[s] <= e_next_q;
                        end
                    end else begin
                        vd_in = {K_MISMATCH, 1'b1, e_id_q, e_buf_q, qr_flow_reg, e_seq_q, e_len_q,
                                 e_dig_q, qr_digest_reg};
                        c_mismatch_reg <= c_mismatch_reg + 1;
                        for (fk = 0; fk < FLOWS; fk = fk + 1) if (s == fk) f_div_reg[fk] <= 1'b1;
                    end
                end else if ({{(31-RW){1'b0}}, r_used_reg} < max_recs && (!r_free_empty || r_fresh_reg < RECORDS)) begin
                    r = !r_free_empty ? r_free_head : r_fresh_reg[RW-1:0];
                    if (!r_free_empty) r_free_pop = 1'b1;
                    else r_fresh_reg <= r_fresh_reg + 1'b1;
                    r_used_reg <= r_used_reg + 1'b1;
                    r_seq_reg[r] <= qr_out_seq_reg;
                    r_len_reg[r] <= qr_len_reg;
                    r_dig_reg[r] <= qr_digest_reg;
                    r_time_reg[r] <= now_ns;
                    if (known && f_rec_reg[s]) r_next_reg[f_rct_q] <= r;
                    else f_rch_reg[s] <= r;
                    f_rct_reg[s] <= r;
                    for (fk = 0; fk < FLOWS; fk = fk + 1) if (s == fk) f_rec_reg[fk] <= 1'b1;
                end else begin
                    vd_push = 1'b1;
                    vd_in = {K_OVERFLOW, 1'b0, 32'd0, 16'd0, qr_flow_reg, qr_out_seq_reg, qr_len_reg, 64'd0, qr_digest_reg};
                    c_overflow_reg <= c_overflow_reg + 1;
                    for (fk = 0; fk < FLOWS; fk = fk + 1) if (s == fk) f_div_reg[fk] <= 1'b1;
                end
            end
        end

        if (op_sweep) begin
            s = walk_reg;
            e = f_evh_q;
            r = f_rch_q;
            if (deadline_ok_reg && f_used_reg[s] && !f_div_reg[s] && f_ev_reg[s] && e_time_q <= deadline_reg) begin
                vd_push = 1'b1;
                vd_in = {K_MISSING, 1'b1, e_id_q, e_buf_q, f_id_q, e_seq_q, e_len_q,
                         e_dig_q, 64'd0};
                c_miss_rec_reg <= c_miss_rec_reg + 1;
                for (fk = 0; fk < FLOWS; fk = fk + 1) if (s == fk) f_div_reg[fk] <= 1'b1;
            end else if (deadline_ok_reg && f_used_reg[s] && f_rec_reg[s] && r_time_q <= deadline_reg) begin
                // Drop the flow's oldest record; stay on this flow for the next one.
                r_free_push = 1'b1;
                r_free_in = r;
                r_used_reg <= r_used_reg - 1'b1;
                if (r == f_rct_q) begin
                    for (fk = 0; fk < FLOWS; fk = fk + 1) if (s == fk) f_rec_reg[fk] <= 1'b0;
                end else f_rch_reg[s] <= r_next_q;
                if (f_div_reg[s]) begin
                    c_ignored_reg <= c_ignored_reg + 1;
                end else begin
                    vd_push = 1'b1;
                    vd_in = {K_MISSING, 1'b0, 32'd0, 16'd0, f_id_q, r_seq_q, r_len_q, 64'd0, r_dig_q};
                    c_miss_ev_reg <= c_miss_ev_reg + 1;
                    for (fk = 0; fk < FLOWS; fk = fk + 1) if (s == fk) f_div_reg[fk] <= 1'b1;
                end
            end else begin
                walk_reg <= walk_reg + 1'b1;
                if (walk_reg == FLOWS - 1) begin
                    walk_reg <= 0;
                    sweep_active_reg <= 1'b0;
                end
            end
        end

        if (op_ra) begin
            s = walk_reg;
            e = f_evh_q;
            if (f_used_reg[s] && f_ev_reg[s]) begin
                vd_push = 1'b1;
                vd_in = {K_RELEASE, 1'b1, e_id_q, e_buf_q, f_id_q, e_seq_q, e_len_q,
                         e_dig_q, 64'd0};
                c_rel_ckpt_reg <= c_rel_ckpt_reg + 1;
                if (e == f_evt_q) begin
                    for (fk = 0; fk < FLOWS; fk = fk + 1) if (s == fk) f_ev_reg[fk] <= 1'b0;
                end else f_evh_reg[s] <= e_next_q;
            end else begin
                walk_reg <= walk_reg + 1'b1;
                if (walk_reg == FLOWS - 1) begin
                    walk_reg <= 0;
                    ra_active_reg <= 1'b0;
                    pools_clear = 1'b1;
                    f_used_reg <= 0;
                    f_div_reg <= 0;
                    f_ev_reg <= 0;
                    f_rec_reg <= 0;
                    f_count_reg <= 0;
                    e_used_reg <= 0;
                    e_fresh_reg <= 0;
                    r_used_reg <= 0;
                    r_fresh_reg <= 0;
                end
            end
        end

        if (vd_push) begin
            vd_mem[vd_wp_reg[VD_LOG2-1:0]] <= vd_in;
            vd_wp_reg <= vd_wp_reg + 1'b1;
        end
        if (m_vd_valid && m_vd_ready) vd_rp_reg <= vd_rp_reg + 1'b1;
        if (e_free_push) begin
            e_free_mem[e_free_wp_reg[EW-1:0]] <= e_free_in;
            e_free_wp_reg <= e_free_wp_reg + 1'b1;
        end
        if (e_free_pop) e_free_rp_reg <= e_free_rp_reg + 1'b1;
        if (r_free_push) begin
            r_free_mem[r_free_wp_reg[RW-1:0]] <= r_free_in;
            r_free_wp_reg <= r_free_wp_reg + 1'b1;
        end
        if (r_free_pop) r_free_rp_reg <= r_free_rp_reg + 1'b1;
        if (pools_clear) begin
            e_free_wp_reg <= 0;
            e_free_rp_reg <= 0;
            r_free_wp_reg <= 0;
            r_free_rp_reg <= 0;
        end

        // The input stage: take what arrives with its lookup, keep a waiting
        // entry's lookup current (see qe_hit).
        op_flow = qe_valid_reg ? qe_flow_reg : qr_flow_reg;
        last_ins_reg <= took;
        last_free_reg <= freed;
        last_clear_reg <= pools_clear;
        last_slot_reg <= s;
        if (op_ev) qe_valid_reg <= 1'b0;
        if (op_rec) qr_valid_reg <= 1'b0;
        if (take_ev) begin
            qe_valid_reg <= 1'b1;
            qe_flow_reg <= ev_flow;
            qe_out_seq_reg <= ev_out_seq;
            qe_len_reg <= ev_len;
            qe_digest_reg <= ev_digest;
            qe_id_reg <= ev_id;
            qe_buf_reg <= ev_buf;
            qe_nobuf_reg <= ev_nobuf;
            qe_hit_reg <= in_hit;
            qe_idx_reg <= in_idx;
            qe_eqf_reg <= op_flow == ev_flow;
            qe_eqs_reg <= s == in_idx;
        end else begin
            qe_hit_reg <= qe_hit;
            qe_idx_reg <= qe_idx;
            qe_eqf_reg <= op_flow == qe_flow_reg;
            qe_eqs_reg <= s == qe_idx;
        end
        if (take_rec) begin
            qr_valid_reg <= 1'b1;
            qr_flow_reg <= rec_flow;
            qr_out_seq_reg <= rec_out_seq;
            qr_len_reg <= rec_len;
            qr_digest_reg <= rec_digest;
            qr_hit_reg <= in_hit;
            qr_idx_reg <= in_idx;
            qr_eqf_reg <= op_flow == rec_flow;
            qr_eqs_reg <= s == in_idx;
        end else begin
            qr_hit_reg <= qr_hit;
            qr_idx_reg <= qr_idx;
            qr_eqf_reg <= op_flow == qr_flow_reg;
            qr_eqs_reg <= s == qr_idx;
        end

        if (cmd_sweep && !ra_active_reg) sweep_active_reg <= 1'b1;
        if (cmd_release_all) begin
            ra_active_reg <= 1'b1;
            sweep_active_reg <= 1'b0;
            walk_reg <= 0;
        end

        if (rst) begin
            f_used_reg <= 0;
            f_div_reg <= 0;
            f_ev_reg <= 0;
            f_rec_reg <= 0;
            f_count_reg <= 0;
            e_used_reg <= 0;
            e_fresh_reg <= 0;
            r_used_reg <= 0;
            r_fresh_reg <= 0;
            ra_active_reg <= 1'b0;
            sweep_active_reg <= 1'b0;
            walk_reg <= 0;
            qe_valid_reg <= 1'b0;
            qr_valid_reg <= 1'b0;
            last_ins_reg <= 1'b0;
            last_free_reg <= 1'b0;
            last_clear_reg <= 1'b0;
            vd_wp_reg <= 0;
            vd_rp_reg <= 0;
            e_free_wp_reg <= 0;
            e_free_rp_reg <= 0;
            r_free_wp_reg <= 0;
            r_free_rp_reg <= 0;
            c_events_reg <= 0; c_records_reg <= 0; c_rel_match_reg <= 0; c_rel_ckpt_reg <= 0;
            c_mismatch_reg <= 0; c_miss_rec_reg <= 0; c_miss_ev_reg <= 0; c_overflow_reg <= 0; c_ignored_reg <= 0;
        end
    end

endmodule

`resetall
