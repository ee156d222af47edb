using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ship.Core.IO;
using Ship.Core.Networks;
using Ship.Core.Parameters;
using Ship.Core.Spikes;
using Ship.Datasets.Batching;
using Ship.Datasets.Embedded;
using Ship.Datasets.Encoders;
using Ship.Devices.Inputs;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using Ship.Training;
using Ship.Training.Optimizers;
using Ship.Training.Hardware;
using Ship.Training.Losses;
using Ship.Training.Readouts;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Bench;

/// <summary>
/// Training comparison with SHIP ("train" mode): the main job's network (64 → 128 LIF → 10 leaky integrators, 25 steps,
/// batch 32, Adam lr 0.005 with a cosine schedule, fast-sigmoid surrogate slope 10, embedded digits) trained by both
/// programs on bit-identical spikes from bit-identical initial weights. This process writes the data folder that
/// ../shared/peers/ship_train_digits.py reads (format in its docstring), then for every thread count runs Ship.NET's
/// training in a fresh child process ("train-run", reading the same folder) and SHIP's script, so both are measured the
/// same way: a fresh process, its peak resident memory (VmHWM) and its idle baseline (runtime and torch loaded, nothing
/// else), spikes of an epoch loaded before that epoch's clock starts, test accuracy after every epoch inside the epoch
/// time. The two like-for-like checks (untrained scores on the test set, first-batch loss and gradients) guard the
/// comparison: a mismatch fails the command.
/// </summary>
internal static class TrainingBench
{
    // The main job's settings (Ship.Cli StudySettings defaults).
    private const int Steps = 25, Hidden = 128, Batch = 32, Seed = 1;
    private const double Dt = 1e-3, MaxRate = 1000, TauHidden = 20e-3, TauOut = 20e-3, Threshold = 1.0, Lr = 5e-3, Slope = 10, TestFraction = 0.2;
    private const string In = "input", InHidden = "in_hidden", HiddenTag = "hidden", HiddenOut = "hidden_out", Out = "out";

    /// <summary>The main job's network (Ship.Cli StudyModel.Build) starting from the given weights or the seeded draw.</summary>
    public static Network Build(int inputs, int classes, Tensor? wIn = null, Tensor? wOut = null)
    {
        var net = new Network("study") { Dt = Dt, Steps = Steps, BatchSize = Batch, Seed = Seed };
        net.Add(In, new TensorInput(inputs));
        net.Add(InHidden, new Dense(wIn is null ? Init.Normal(0.0, 3.0 / Math.Sqrt(inputs)) : (Value)wIn), In, HiddenTag);
        net.Add(HiddenTag, new Lif(Hidden, tau: TauHidden, threshold: Threshold));
        net.Add(HiddenOut, new Dense(wOut is null ? Init.Normal(0.0, 1.0 / Math.Sqrt(Hidden)) : (Value)wOut), HiddenTag, Out);
        net.Add(Out, new LeakyIntegrator(classes, tau: TauOut));
        net.MarkOutput(Out);
        return net;
    }

    private static Trainer TrainerFor(Network net) =>
        new(net, new MaxOverTime(Out), new NllLoss(), ps => new HeldAdam(ps, Lr), surrogate: new FastSigmoid(Slope));

    /// <summary>The "train" mode: prepare the folder, then Ship.NET and SHIP at every thread count; returns the exit code.</summary>
    public static int Run(Options o)
    {
        var dir = Path.GetFullPath(o.Data ?? Path.Combine(Path.GetTempPath(), "ship-train-compare"));
        Console.WriteLine($"# training comparison: data folder {dir}, epochs {o.Epochs}, threads {string.Join(',', o.ThreadCounts)}");
        Prepare(dir, o.Epochs);
        var rows = new List<object[]>();
        bool ok = true;
        // A competing busy process per --busy (the "loaded" setting): both programs then share the cores with it.
        var busy = Enumerable.Range(0, o.Busy).Select(_ => Process.Start(new ProcessStartInfo("/bin/sh", new[] { "-c", "while :; do :; done" }))!).ToList();
        if (busy.Count > 0) Console.WriteLine($"# loaded: {busy.Count} competing busy-loop process(es) run during the measurements");
        try
        {
        foreach (int threads in o.ThreadCounts)
        {
            Console.WriteLine($"# ---- {threads} thread(s) ----");
            var ours = RunChild(dir, threads, o.Epochs);
            if (ours is null) { ok = false; continue; }
            Report("Ship.NET", ours);
            rows.Add(Row("Ship.NET", threads, ours));
            if (!o.Peer) continue;
            AddResultsToMeta(dir, ours);
            var json = Path.Combine(dir, $"ship-result-{threads}.json");
            File.Delete(json);
            var lines = Peers.RunText("ship_train_digits.py", new[] { "--data", dir, "--threads", threads.ToString(CultureInfo.InvariantCulture), "--json", json }, 7200);
            if (!File.Exists(json)) { Console.WriteLine("# SHIP did not write its result"); ok = false; continue; }
            var ship = JsonNode.Parse(File.ReadAllText(json))!.AsObject();
            var shipBase = Peers.ShipIdleRss(threads);
            ship["base_rss_mib"] = shipBase;
            Report("SHIP", ship);
            rows.Add(Row("SHIP", threads, ship));
            ok &= Guard(lines);
            double ratio = D(ship, "median_epoch_seconds") / D(ours, "median_epoch_seconds");
            double ratioTrain = D(ship, "median_train_seconds") / D(ours, "median_train_seconds");
            double growthOurs = D(ours, "peak_rss_mib") - D(ours, "base_rss_mib"), growthShip = D(ship, "peak_rss_mib") - shipBase;
            Console.WriteLine($"RATIO threads {threads}: SHIP / Ship.NET s/epoch (train+eval) {ratio:F2}x, train only {ratioTrain:F2}x; " +
                $"memory growth over idle Ship.NET {growthOurs:F0} MiB vs SHIP {growthShip:F0} MiB; " +
                $"final accuracy {100 * Last(ours, "test_accuracy"):F2} % vs {100 * Last(ship, "test_accuracy"):F2} %");
        }
        }
        finally
        {
            foreach (var p in busy) { p.Kill(); p.Dispose(); }
        }
        Directory.CreateDirectory(o.Out);
        var csv = Path.Combine(o.Out, o.Busy > 0 ? "benchmark-train-cpu-loaded.csv" : "benchmark-train-cpu.csv");
        CsvTable.Write(csv, new[] { "framework", "threads", "epochs", "median_epoch_s", "median_train_s", "total_s", "final_test_accuracy", "peak_rss_mib", "base_rss_mib", "growth_mib", "others_cpu" },
            rows.Select(r => (IReadOnlyList<object>)r));
        Console.WriteLine($"# wrote {csv}");
        Console.WriteLine(ok ? "# like-for-like checks: passed" : "# like-for-like checks: FAILED (see above)");
        return ok ? 0 : 1;
    }

    private static object[] Row(string name, int threads, JsonObject r) => new object[]
    {
        name, threads, (int)D(r, "epochs"), D(r, "median_epoch_seconds"), D(r, "median_train_seconds"), D(r, "total_seconds"),
        Last(r, "test_accuracy"), D(r, "peak_rss_mib"), D(r, "base_rss_mib"), D(r, "peak_rss_mib") - D(r, "base_rss_mib"), D(r, "others_cpu"),
    };

    private static void Report(string name, JsonObject r) =>
        Console.WriteLine($"RESULT {name,-9} s/epoch(median, train+eval) {D(r, "median_epoch_seconds"):F4}  train only {D(r, "median_train_seconds"):F4}  " +
            $"total {D(r, "total_seconds"):F2} s  final accuracy {100 * Last(r, "test_accuracy"):F2} %  peak RSS {D(r, "peak_rss_mib"):F0} MiB  " +
            $"idle {D(r, "base_rss_mib"):F0} MiB  growth {D(r, "peak_rss_mib") - D(r, "base_rss_mib"):F0} MiB  others_cpu {D(r, "others_cpu"):F2}");

    private static double D(JsonObject r, string key) => r[key] is JsonValue v && v.TryGetValue(out double d) ? d : double.NaN;

    private static double Last(JsonObject r, string key) => r[key] is JsonArray a && a.Count > 0 ? a[^1]!.GetValue<double>() : double.NaN;

    /// <summary>
    /// Parses SHIP's two check lines. Float32 sums in another order may flip a hidden spike whose membrane lies at the
    /// threshold, so the forward check asks the untrained scores to agree within 1 % of the largest score and the
    /// predicted class to agree on at least 99 % of the test set; the backward check asks the first-batch loss within
    /// 1e-4 relative and the weight gradients within 1 % (relative L2), far below what another network, other spikes or
    /// other weights give (order 1).
    /// </summary>
    private static bool Guard(List<string> lines)
    {
        bool fwd = false, bwd = false;
        foreach (var l in lines)
        {
            if (l.StartsWith("check forward:", StringComparison.Ordinal))
            {
                var m = System.Text.RegularExpressions.Regex.Match(l, @"max \|diff\| (\S+) \(max \|score\| (\S+)\), argmax agree (\d+)/(\d+)");
                if (!m.Success) continue;
                double diff = P(m.Groups[1].Value), max = P(m.Groups[2].Value), agree = P(m.Groups[3].Value), n = P(m.Groups[4].Value);
                fwd = diff <= 0.01 * max && agree >= 0.99 * n;
                Console.WriteLine($"# guard forward: max |diff| {diff:G3} <= 1 % of {max:G3} and argmax agree {agree}/{n} >= 99 %: {(fwd ? "ok" : "FAILED")}");
            }
            else if (l.StartsWith("check backward:", StringComparison.Ordinal))
            {
                var m = System.Text.RegularExpressions.Regex.Match(l, @"loss (\S+) \(Ship\.NET (\S+)\); gradient rel\. L2 diff: in_hidden (\S+), hidden_out (\S+);");
                if (!m.Success) continue;
                double a = P(m.Groups[1].Value), b = P(m.Groups[2].Value), g1 = P(m.Groups[3].Value), g2 = P(m.Groups[4].Value);
                bwd = Math.Abs(a - b) <= 1e-4 * Math.Abs(b) && g1 <= 0.01 && g2 <= 0.01;
                Console.WriteLine($"# guard backward: loss {a} vs {b}, gradient rel. diff {g1:G3} / {g2:G3} <= 1 %: {(bwd ? "ok" : "FAILED")}");
            }
        }
        if (!fwd || !bwd) Console.WriteLine("# guard: a check line is missing or failed: the two programs did not train the same thing");
        return fwd && bwd;

        static double P(string s) => double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : double.NaN;
    }

    /// <summary>Writes the data folder: split, test spikes, initial weights, per-epoch spikes in training order, check values.</summary>
    private static void Prepare(string dir, int epochs)
    {
        Directory.CreateDirectory(dir);
        foreach (var f in Directory.GetFiles(dir, "*.npy")) File.Delete(f);
        using var scope = torch.NewDisposeScope();
        var (train, test) = Digits.Split(TestFraction, Seed, normalize: true);
        int inputs = (int)train.Inputs.shape[1];
        // Same draws as the main job (Ship.Cli Study and StudyModel.Train with seed 1).
        var testSpikes = RateEncoder.Encode(test.Inputs, Steps, Dt, MaxRate, new torch.Generator((ulong)(Seed + 1000)));
        var net = Build(inputs, Digits.Classes);
        net.Initialize();
        var w0In = net[InHidden].Get("w").detach().clone();
        var w0Out = net[HiddenOut].Get("w").detach().clone();
        Npy.Write(Path.Combine(dir, "train_y.npy"), train.Labels.to_type(ScalarType.Int64));
        Npy.Write(Path.Combine(dir, "test_y.npy"), test.Labels.to_type(ScalarType.Int64));
        Npy.Write(Path.Combine(dir, "test_spikes.npy"), testSpikes.to_type(ScalarType.Byte));
        Npy.Write(Path.Combine(dir, "w0_in_hidden.npy"), w0In);
        Npy.Write(Path.Combine(dir, "w0_hidden_out.npy"), w0Out);
        var loader = new DenseLoader(train, Batch, shuffle: true, dropLast: true, seed: Seed);
        var rng = new torch.Generator((ulong)(Seed * 7919 + 17));
        Tensor? firstX = null, firstY = null;
        for (int e = 0; e < epochs; e++)
        {
            using var es = torch.NewDisposeScope();
            var xs = new List<Tensor>();
            var ix = new List<Tensor>();
            foreach (var b in loader.Epoch(e))
            {
                var x = RateEncoder.Encode(b.X, Steps, Dt, MaxRate, rng);
                if (firstX is null) { firstX = x.clone().MoveToOuterDisposeScope(); firstY = b.Y.clone().MoveToOuterDisposeScope(); }
                xs.Add(x.to_type(ScalarType.Byte));
                ix.Add(b.Indices);
            }
            Npy.Write(Path.Combine(dir, $"epoch{e:D3}_spikes.npy"), torch.stack(xs));
            Npy.Write(Path.Combine(dir, $"epoch{e:D3}_idx.npy"), torch.stack(ix));
        }
        // The two checks, from Ship.NET's trainer on the same weights and spikes.
        var trainer = TrainerFor(net);
        var scores = Scores(trainer, testSpikes);
        double acc0 = scores.argmax(1).eq(test.Labels.to_type(ScalarType.Int64)).to_type(ScalarType.Float64).mean().item<double>();
        Npy.Write(Path.Combine(dir, "check_scores0.npy"), scores);
        double loss0 = trainer.TrainBatch(firstX!, firstY!);
        Npy.Write(Path.Combine(dir, "check_grad0_in_hidden.npy"), trainer.Parameters[0].grad!);
        Npy.Write(Path.Combine(dir, "check_grad0_hidden_out.npy"), trainer.Parameters[1].grad!);
        if (trainer.Trainable[0].Owner.Tag != InHidden) throw new InvalidOperationException("trainable order changed");
        var meta = new JsonObject
        {
            ["epochs"] = epochs, ["batch_size"] = Batch, ["batches_per_epoch"] = loader.BatchesPerEpoch, ["steps"] = Steps, ["dt"] = Dt,
            ["hidden"] = Hidden, ["tau_hidden"] = TauHidden, ["tau_out"] = TauOut, ["threshold"] = Threshold, ["lr"] = Lr,
            ["surrogate_slope"] = Slope, ["check_loss0"] = loss0, ["check_acc0"] = acc0,
            ["source"] = "Ship.NET bench/Ship.Bench train (the main job's network, data and draws, seed 1)",
        };
        File.WriteAllText(Path.Combine(dir, "meta.json"), meta.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        Console.WriteLine($"# wrote {dir}: {train.Count} train / {test.Count} test samples, {loader.BatchesPerEpoch} batches of {Batch} per epoch; untrained accuracy {100 * acc0:F2} %, first-batch loss {loss0:F6}");
    }

    /// <summary>Max-over-time scores of the whole test set in zero-padded chunks of the batch size (as SHIP's script does).</summary>
    private static Tensor Scores(Trainer trainer, Tensor spikes)
    {
        var parts = new List<Tensor>();
        long n = spikes.shape[0];
        for (long s = 0; s < n; s += Batch)
        {
            long size = Math.Min(Batch, n - s);
            var x = spikes.narrow(0, s, size);
            if (size < Batch) x = torch.cat(new[] { x, torch.zeros(new long[] { Batch - size, x.shape[1], x.shape[2] }, x.dtype) }, 0);
            parts.Add(trainer.Predict(x).narrow(0, 0, size));
        }
        return torch.cat(parts, 0);
    }

    private static void AddResultsToMeta(string dir, JsonObject ours)
    {
        var path = Path.Combine(dir, "meta.json");
        var meta = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        meta["results"] = JsonNode.Parse(ours.ToJsonString());
        File.WriteAllText(path, meta.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }

    /// <summary>Runs "train-run" in a fresh process of this program and returns its result object.</summary>
    private static JsonObject? RunChild(string dir, int threads, int epochs)
    {
        var json = Path.Combine(dir, $"shipnet-result-{threads}.json");
        File.Delete(json);
        var self = Environment.ProcessPath!;
        var psi = new ProcessStartInfo(self) { RedirectStandardOutput = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet") psi.ArgumentList.Add(typeof(TrainingBench).Assembly.Location);
        foreach (var a in new[] { "train-run", "--data", dir, "--threads", threads.ToString(CultureInfo.InvariantCulture), "--epochs", epochs.ToString(CultureInfo.InvariantCulture), "--json", json })
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        string? line;
        while ((line = p.StandardOutput.ReadLine()) is not null) Console.WriteLine("# ship.net> " + line);
        p.WaitForExit();
        if (p.ExitCode != 0 || !File.Exists(json)) { Console.WriteLine($"# Ship.NET training failed (exit code {p.ExitCode})"); return null; }
        return JsonNode.Parse(File.ReadAllText(json))!.AsObject();
    }

    /// <summary>The "train-run" mode: Ship.NET's side of the comparison in this (fresh) process, reading the folder.</summary>
    public static int RunChildMode(Options o)
    {
        // Idle baseline: the runtime and libtorch loaded and one tiny op done, nothing of the benchmark yet (SHIP's is
        // measured the same way: Python with torch and SHIP imported).
        using (var warm = torch.ones(1).add(1)) { }
        double baseRss = Measure.RssMiB();
        var dir = o.Data ?? throw new ArgumentException("train-run needs --data");
        var meta = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "meta.json")))!.AsObject();
        int epochs = o.Epochs;
        Tensor Load(string name) => Npy.Read(Path.Combine(dir, name));
        var trainY = Load("train_y.npy");
        var testY = Load("test_y.npy");
        Tensor testSpikes;
        using (var raw = Load("test_spikes.npy")) testSpikes = raw.to_type(ScalarType.Float32);
        var net = Build((int)testSpikes.shape[2], Digits.Classes, Load("w0_in_hidden.npy"), Load("w0_hidden_out.npy"));
        var trainer = TrainerFor(net);
        var readout = trainer.Readout;
        var scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(trainer.Optimizer, meta["epochs"]!.GetValue<int>());
        Console.WriteLine($"Ship.NET, TorchSharp {typeof(torch).Assembly.GetName().Version}, threads {torch.get_num_threads()}, idle RSS {baseRss:F0} MiB");
        Console.WriteLine($"intra-op threads per training step: {net.ThreadsFor(net.Steps).Threads} ({net.ThreadsFor(net.Steps).Reason})");
        var epochS = new List<double>();
        var trainS = new List<double>();
        var accs = new List<double>();
        var losses = new List<double>();
        var c0 = Measure.CpuSample();
        for (int e = 0; e < epochs; e++)
        {
            using var es = torch.NewDisposeScope();
            // The uint8 file data freed once converted, as the peer's temporary numpy array is.
            Tensor xs;
            using (var raw = Load($"epoch{e:D3}_spikes.npy")) xs = raw.to_type(ScalarType.Float32);
            var ys = trainY.index_select(0, Load($"epoch{e:D3}_idx.npy").flatten()).view(xs.shape[0], xs.shape[1]);
            var xb = xs.unbind(0);
            var yb = ys.unbind(0);
            var sw = Stopwatch.StartNew();
            double sum = 0;
            for (int b = 0; b < xb.Length; b++)
            {
                using var bs = torch.NewDisposeScope();
                double loss = trainer.TrainBatch(xb[b], yb[b]);
                sum += loss;
                if (e == 0 && b == 0)
                    Console.WriteLine($"check: first-batch loss {loss:F6} (folder {meta["check_loss0"]!.GetValue<double>():F6})");
            }
            double t1 = sw.Elapsed.TotalSeconds;
            scheduler.step();
            double acc = HardwareEvaluator.Accuracy(net, readout, testSpikes, testY);
            double t2 = sw.Elapsed.TotalSeconds;
            epochS.Add(t2);
            trainS.Add(t1);
            accs.Add(acc);
            losses.Add(sum / xb.Length);
            Console.WriteLine($"epoch {e + 1,3}/{epochs}  loss {sum / xb.Length:F4}  test accuracy {100 * acc:F2} %  train {t1:F3} s  +eval {t2 - t1:F3} s");
        }
        double others = Measure.OthersLoad(c0, Measure.CpuSample());
        Npy.Write(Path.Combine(dir, "final_in_hidden.npy"), net[InHidden].Get("w"));
        Npy.Write(Path.Combine(dir, "final_hidden_out.npy"), net[HiddenOut].Get("w"));
        var res = new JsonObject
        {
            ["framework"] = $"Ship.NET (TorchSharp {typeof(torch).Assembly.GetName().Version})",
            ["threads"] = torch.get_num_threads(), ["epochs"] = epochs,
            ["epoch_seconds"] = new JsonArray(epochS.Select(v => (JsonNode)v).ToArray()),
            ["train_seconds"] = new JsonArray(trainS.Select(v => (JsonNode)v).ToArray()),
            ["test_accuracy"] = new JsonArray(accs.Select(v => (JsonNode)v).ToArray()),
            ["mean_loss"] = new JsonArray(losses.Select(v => (JsonNode)v).ToArray()),
            ["median_epoch_seconds"] = Median(epochS), ["median_train_seconds"] = Median(trainS), ["total_seconds"] = epochS.Sum(),
            ["peak_rss_mib"] = Measure.PeakRssMiB(), ["base_rss_mib"] = baseRss, ["others_cpu"] = others,
        };
        if (o.Json is { } path) File.WriteAllText(path, res.ToJsonString());
        Console.WriteLine($"RESULT ship.net s/epoch(median, train+eval) {Median(epochS):F4}  train only {Median(trainS):F4}  total {epochS.Sum():F2} s  " +
            $"final test accuracy {100 * accs[^1]:F2} %  peak RSS {Measure.PeakRssMiB():F0} MiB  idle {baseRss:F0} MiB  others_cpu {others:F2}");
        return 0;
    }

    private static double Median(List<double> v)
    {
        var s = v.OrderBy(x => x).ToArray();
        return s.Length == 0 ? double.NaN : s.Length % 2 == 1 ? s[s.Length / 2] : 0.5 * (s[s.Length / 2 - 1] + s[s.Length / 2]);
    }
}

/// <summary>
/// Where a training step's time and memory go ("train-profile" mode, after "train" wrote the folder): per batch the
/// time, the tensor handles created (each one native call returning a tensor), the managed bytes allocated and the
/// minor page faults, for the whole step and for its phases; and resident memory at each stage of a training process.
/// </summary>
internal static class TrainingProfile
{
    public static int Run(Options o)
    {
        using (var warm = torch.ones(1).add(1)) { }
        void Stage(string what) => Console.WriteLine($"rss,{what},{Measure.RssMiB():F1},malloc_in_use_mib,{MallocInUse() / 1048576.0:F1},gc_heap_mib,{GC.GetGCMemoryInfo().HeapSizeBytes / 1048576.0:F1},committed_mib,{GC.GetGCMemoryInfo().TotalCommittedBytes / 1048576.0:F1},gen0,{GC.CollectionCount(0)}");
        Stage("idle");
        var dir = o.Data ?? throw new ArgumentException("train-profile needs --data");
        Tensor Load(string name) => Npy.Read(Path.Combine(dir, name));
        var trainY = Load("train_y.npy");
        var testY = Load("test_y.npy");
        var testSpikes = Load("test_spikes.npy").to_type(ScalarType.Float32);
        var net = TrainingBench.Build((int)testSpikes.shape[2], Digits.Classes, Load("w0_in_hidden.npy"), Load("w0_hidden_out.npy"));
        var trainer = new Trainer(net, new MaxOverTime("out"), new NllLoss(), ps => new HeldAdam(ps, 5e-3), surrogate: new FastSigmoid(10));
        Stage("loaded+built");
        Console.WriteLine(net.DescribePlan());
        var xs = Load("epoch000_spikes.npy").to_type(ScalarType.Float32);
        var ys = trainY.index_select(0, Load("epoch000_idx.npy").flatten()).view(xs.shape[0], xs.shape[1]);
        var xb = xs.unbind(0);
        var yb = ys.unbind(0);
        using (var s = torch.NewDisposeScope()) trainer.TrainBatch(xb[0], yb[0]);
        Stage("first batch");
        for (int e = 0; e < 3; e++)
        {
            for (int b = 0; b < xb.Length; b++)
            {
                using (var s = torch.NewDisposeScope()) trainer.TrainBatch(xb[b], yb[b]);
                if (Environment.GetEnvironmentVariable("SHIP_PROFILE_GC") == "1") { GC.Collect(); GC.WaitForPendingFinalizers(); }
            }
            HardwareEvaluator.Accuracy(net, trainer.Readout, testSpikes, testY);
            Stage($"epoch {e + 1}");
            if (Environment.GetEnvironmentVariable("SHIP_PROFILE_MALLOC_STATS") == "1") MallocStats();
        }
        void Leak(string label, Action<int> fn)
        {
            GC.Collect(); GC.WaitForPendingFinalizers(); GC.Collect();
            double r0 = Measure.RssMiB();
            long live0 = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
            for (int k = 0; k < 2 * xb.Length; k++) fn(k % xb.Length);
            double r1 = Measure.RssMiB();
            long live1 = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
            GC.Collect(); GC.WaitForPendingFinalizers(); GC.Collect();
            Console.WriteLine($"leak,{label},rss growth over {2 * xb.Length} batches {r1 - r0:F1} MiB,after GC {Measure.RssMiB() - r0:F1} MiB,live handles +{live1 - live0}");
        }
        if (Environment.GetEnvironmentVariable("SHIP_PROFILE_LEAK") == "2")
        {
            GC.Collect(); GC.WaitForPendingFinalizers(); GC.Collect();
            Stage("after GC");
            for (int e = 0; e < 10; e++)
            {
                for (int b = 0; b < xb.Length; b++) { using var s = torch.NewDisposeScope(); trainer.TrainBatch(xb[b], yb[b]); }
                if (Environment.GetEnvironmentVariable("SHIP_PROFILE_EVAL") == "1") HardwareEvaluator.Accuracy(net, trainer.Readout, testSpikes, testY);
                Stage($"TrainBatch (+ eval if SHIP_PROFILE_EVAL=1), epoch {e + 1}");
            }
            GC.Collect(); GC.WaitForPendingFinalizers(); GC.Collect();
            Stage("after GC");
            return 0;
        }
        if (Environment.GetEnvironmentVariable("SHIP_PROFILE_LEAK") == "1")
        {
            // Native tensors left per call for the finalizer (live handles after the call's own tensors were freed).
            Leak("run without gradients, outputs freed", b => { using var _ = torch.no_grad(); foreach (var t in net.Run(xb[b]).Outputs.Values) t.Dispose(); });
            Leak("run with graph, outputs freed", b => { net.TrackGradients = true; foreach (var t in net.Run(xb[b]).Outputs.Values) t.Dispose(); net.TrackGradients = false; });
            Leak("forward with graph", b => { using var s = torch.NewDisposeScope(); net.TrackGradients = true; net.Run(xb[b]); net.TrackGradients = false; });
            Leak("forward + loss + backward", b =>
            {
                using var s = torch.NewDisposeScope();
                net.TrackGradients = true;
                var loss = trainer.Loss.Compute(trainer.Readout.Read(net.Run(xb[b])), yb[b]);
                net.TrackGradients = false;
                loss.backward();
            });
            Leak("optimizer step", b => { using var s = torch.NewDisposeScope(); trainer.Optimizer.step(); });
            Leak("TrainBatch", b => { using var s = torch.NewDisposeScope(); trainer.TrainBatch(xb[b], yb[b]); });
            Leak("Predict", b => { using var s = torch.NewDisposeScope(); trainer.Predict(xb[b]); });
        }
        Console.WriteLine("phase,min_ms,median_ms,thread_cpu_median_ms,tensor_handles,managed_kib,page_faults");
        Phase("train batch (TrainBatch)", xb.Length, b => { using var s = torch.NewDisposeScope(); trainer.TrainBatch(xb[b], yb[b]); });
        Phase("forward with graph (Run)", xb.Length, b =>
        {
            using var s = torch.NewDisposeScope();
            net.TrackGradients = true;
            net.Run(xb[b]);
            net.TrackGradients = false;
        });
        Phase("forward + readout + loss + backward", xb.Length, b =>
        {
            using var s = torch.NewDisposeScope();
            net.TrackGradients = true;
            var loss = trainer.Loss.Compute(trainer.Readout.Read(net.Run(xb[b])), yb[b]);
            net.TrackGradients = false;
            loss.backward();
        });
        Phase("optimizer step", xb.Length, b => { using var s = torch.NewDisposeScope(); trainer.Optimizer.step(); });
        Phase("zero_grad", xb.Length, b => { using var s = torch.NewDisposeScope(); trainer.Optimizer.zero_grad(); });
        Phase("inference batch (Predict)", xb.Length, b => { using var s = torch.NewDisposeScope(); trainer.Predict(xb[b]); });
        // One batch of the per-epoch test pass as the evaluator runs it (its chunking, read-out and count of hits).
        int chunks = (int)(testSpikes.shape[0] / xb[0].shape[0]);
        Phase("test chunk (HardwareEvaluator.Accuracy, one batch)", chunks, b =>
        {
            using var s = torch.NewDisposeScope();
            long size = xb[0].shape[0];
            HardwareEvaluator.Accuracy(net, trainer.Readout, testSpikes.narrow(0, b * size, size), testY.narrow(0, b * size, size));
        });
        Stage("end");
        return 0;
    }

    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Sequential)]
    private struct MallInfo2 { public nuint Arena, Ordblks, Smblks, Hblks, Hblkhd, Usmblks, Fsmblks, Uordblks, Fordblks, Keepcost; }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "mallinfo2")]
    private static extern MallInfo2 MallInfo();

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "malloc_stats")]
    private static extern void MallocStats();

    /// Bytes glibc's allocator has handed out and not had back (heap in use plus mmapped blocks): live native memory.
    private static double MallocInUse()
    {
        try { var m = MallInfo(); return m.Uordblks + (double)m.Hblkhd; }
        catch (EntryPointNotFoundException) { return double.NaN; }
    }

    private static void Phase(string label, int batches, Action<int> fn)
    {
        var t = new List<double>();
        var cpu = new List<double>();
        long handles = 0, bytes = 0, faults = 0;
        for (int k = 0; k < batches; k++)
        {
            DisposeScopeManager.Statistics.Reset();
            long f0 = Profile.Faults(), a0 = GC.GetAllocatedBytesForCurrentThread();
            double c0 = ThreadCpu.Now();
            var sw = Stopwatch.StartNew();
            fn(k);
            t.Add(sw.Elapsed.TotalMilliseconds);
            cpu.Add(1e3 * (ThreadCpu.Now() - c0));
            bytes += GC.GetAllocatedBytesForCurrentThread() - a0;
            faults += Profile.Faults() - f0;
            handles += DisposeScopeManager.Statistics.CreatedInScopeCount + DisposeScopeManager.Statistics.CreatedOutsideScopeCount;
        }
        t.Sort();
        cpu.Sort();
        Console.WriteLine($"{label},{t[0]:F3},{t[t.Count / 2]:F3},{cpu[cpu.Count / 2]:F3},{handles / batches},{bytes / batches / 1024},{faults / batches}");
    }
}
