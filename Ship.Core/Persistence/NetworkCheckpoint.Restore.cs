using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ship.Core.Clocks;
using Ship.Core.Errors;
using Ship.Core.Groups;
using Ship.Core.Networks;
using Ship.Core.Parameters;
using Ship.Core.Spikes;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Core.Persistence;
/// <summary>Loading: run state, monitors, extra group state and the generator, with the shape checks and JSON helpers.</summary>
public sealed partial class NetworkCheckpoint
{
    private static void RestoreRest(Network network, JsonObject root, JsonObject net, LoadSession session, string src)
    {
        var groupNodes = Need<JsonArray>(net, "groups", src).Cast<JsonObject>().ToList();
        if (root["run"] is JsonObject run)
        {
            double dt = Dbl(run, "dt", src);
            if (!(dt > 0) || !double.IsFinite(dt)) throw Corrupt(src, $"run.dt = {dt} is not a positive time step");
            var stretches = new List<Timeline.Stretch>();
            int first = 0;
            foreach (var s in Need<JsonArray>(run, "timeline", src))
            {
                var so = s as JsonObject ?? throw Corrupt(src, "a timeline stretch is not an object");
                var st = new Timeline.Stretch(Dbl(so, "start", src), Dbl(so, "dt", src), Int(so, "steps", src), first);
                if (st.Steps < 1 || !(st.Dt > 0)) throw Corrupt(src, "a timeline stretch has no steps or a bad dt");
                stretches.Add(st);
                first += st.Steps;
            }
            long stepIndex = Lng(run, "step_index", src);
            if (stepIndex != first) throw Corrupt(src, $"run.step_index = {stepIndex} but the timeline has {first} steps");
            var latestNode = Need<JsonObject>(run, "latest", src);
            var ctx = network.Context;
            var latest = new List<Tensor>();
            foreach (var g in network.Groups)
            {
                var node = latestNode[g.Tag] as JsonObject ?? throw new CheckpointException(CheckpointProblem.TopologyMismatch, $"{src}: run.latest has no output for group '{g.Tag}'.");
                var t = session.Tensor(Str(node, "tensor", src), $"run.latest.{g.Tag}");
                if (t.dim() != 2 || t.Sizes()[0] != ctx.BatchSize || t.Sizes()[1] != g.OutputSize || !(t.is_floating_point() || t.dtype == ScalarType.Bool))
                {
                    var message = $"{src}: the latest output of '{g.Tag}' is {t.dtype} {Shapes.Format(t.Sizes())}, the group outputs {ctx.DType} [{ctx.BatchSize}, {g.OutputSize}].";
                    t.Dispose();
                    throw new CheckpointException(CheckpointProblem.TopologyMismatch, message);
                }
                latest.Add(t);
            }
            network.RestoreRun(dt, stepIndex, Dbl(run, "time", src), stretches, latest, () =>
            {
                foreach (var n in groupNodes)
                {
                    var g = network[Str(n, "tag", src)];
                    foreach (var vn in Need<JsonArray>(n, "variables", src).Cast<JsonObject>())
                    {
                        var v = g.Variable(Str(vn, "name", src));
                        if (v is not StateVariable) continue;
                        var path = $"groups[{g.Tag}].{v.Name}";
                        var name = TensorName(vn, path, src, required: true)!;
                        CheckAgainstJson(session.Peek(name, path), vn, $"{g.Tag}.{v.Name}", src);
                        var t = session.Tensor(name, path);
                        var reset = v.Value;
                        if (t.dtype != reset.dtype || !StateShapeFits(t.Sizes(), reset.Sizes(), v.FullShape(ctx)))
                        {
                            var message = $"{src}: state '{g.Tag}.{v.Name}' is stored as {t.dtype} {Shapes.Format(t.Sizes())}, the network holds it as {reset.dtype} {Shapes.Format(reset.Sizes())}.";
                            t.Dispose();
                            throw new CheckpointException(CheckpointProblem.TopologyMismatch, message);
                        }
                        v.Tensor = t;
                    }
                }
            });
        }
        foreach (var n in groupNodes) RestoreExtra(network[Str(n, "tag", src)], n, session, src);
        RestoreMonitors(network, net, session, src);

        var rng = Need<JsonObject>(root, "rng", src);
        var state = session.Peek(Str(rng, "tensor", src), "rng");
        // libtorch aborts the process on a state of the wrong size or dtype: checked here first (streams too).
        using (var current = network.Context.Rng.get_state())
        {
            void Check(Tensor t, string what)
            {
                if (t.dtype != current.dtype || !t.Sizes().SequenceEqual(current.Sizes()))
                    throw new CheckpointException(CheckpointProblem.Corrupted,
                        $"{src}: {what} is {t.dtype} {Shapes.Format(t.Sizes())}, a {network.Device} generator's state is {current.dtype} {Shapes.Format(current.Sizes())}.");
            }
            Check(state, "the random generator state");
            var streamStates = new List<(string Owner, string Purpose, Tensor State)>();
            if (rng["streams"] is JsonArray streams)
                foreach (var node in streams.OfType<JsonObject>())
                {
                    var (owner, purpose) = (Str(node, "owner", src), Str(node, "purpose", src));
                    var t = session.Peek(Str(node, "tensor", src), "rng stream");
                    Check(t, $"the state of random stream {owner}/{purpose}");
                    streamStates.Add((owner, purpose, t));
                }
            try
            {
                network.Context.Rng.set_state(state);
                foreach (var (owner, purpose, t) in streamStates) network.Context.Streams.SetState(owner, purpose, t);
            }
            catch (Exception e) when (e is not ShipException)
            {
                throw new CheckpointException(CheckpointProblem.Corrupted, $"{src}: the random generator state does not fit a {network.Device} generator: {e.Message}", e);
            }
        }
    }

    private static void RestoreMonitors(Network network, JsonObject net, LoadSession session, string src)
    {
        var nodes = Need<JsonArray>(net, "monitors", src);
        for (int k = 0; k < nodes.Count; k++)
        {
            var o = (JsonObject)nodes[k]!;
            var m = network.Monitors[k];
            if (o["records"] is JsonObject rec)
            {
                var values = session.Tensor(Str(rec, "tensor", src), $"monitors[{k}].records");
                using var times = session.Tensor(Str(Need<JsonObject>(o, "times", src), "tensor", src), $"monitors[{k}].times");
                if (values.dim() < 2 || values.Sizes()[0] != network.BatchSize || times.dim() != 1 || times.Sizes()[0] != values.Sizes()[1]
                    || !(values.is_floating_point() || values.dtype == ScalarType.Bool) || !times.is_floating_point())
                    throw new CheckpointException(CheckpointProblem.TopologyMismatch,
                        $"{src}: the records of monitor {m.Group.Tag}.{m.Variable} are {values.dtype} {Shapes.Format(values.Sizes())} with {times.numel()} {times.dtype} times.");
                m.Restore(values, times.to_type(ScalarType.Float64).data<double>().ToArray());
                values.Dispose();
            }
            if (o["stream"] is JsonObject st)
                m.ResumeStream(Str(st, "folder", src), Int(st, "chunk_steps", src),
                    Enum.TryParse<Monitors.MonitorFileFormat>(Str(st, "format", src), out var f) ? f : throw Corrupt(src, $"monitors[{k}].stream.format is unknown"),
                    Int(st, "chunks", src), Int(st, "count", src));
        }
    }

    private static void RestoreExtra(Group g, JsonObject node, LoadSession session, string src)
    {
        var saved = Need<JsonArray>(node, "state", src).Select(x => x as JsonObject ?? throw Corrupt(src, $"a state entry of '{g.Tag}' is not an object"))
            .ToDictionary(x => Int(x, "level", src));
        int level = 0;
        for (Group? x = g; x is not null; x = (x as GroupWrapper)?.Inner, level++)
        {
            if (x is not ICheckpointState cs)
            {
                if (saved.ContainsKey(level))
                    throw new CheckpointException(CheckpointProblem.TopologyMismatch, $"{src}: group '{g.Tag}' has saved run state at stack level {level}, where the {x.GetType().Name} keeps none.");
                continue;
            }
            if (!saved.Remove(level, out var entry))
                throw new CheckpointException(CheckpointProblem.TopologyMismatch, $"{src}: the {x.GetType().Name} of group '{g.Tag}' (stack level {level}) has no saved run state.");
            var path = $"groups[{g.Tag}].state[{level}]";
            try { cs.LoadState(new CheckpointReader(session, Need<JsonObject>(entry, "values", src), path)); }
            catch (CheckpointException) { throw; }
            catch (Exception e) when (e is ShipException or ArgumentException or InvalidOperationException)
            {
                throw new CheckpointException(CheckpointProblem.TopologyMismatch, $"{src}: the run state at '{path}' does not fit: {e.Message}", e);
            }
        }
        if (saved.Count > 0)
            throw new CheckpointException(CheckpointProblem.TopologyMismatch, $"{src}: group '{g.Tag}' has saved run state at stack level(s) {string.Join(", ", saved.Keys)}, beyond its {level} level(s).");
    }

    /// <summary>
    /// A state the group keeps at its declared full shape must come back at exactly that shape. A state whose group
    /// lays it out itself (a delay queue [slots, batch, N]) must have the same rank and the same sizes except on one
    /// axis, which may be longer (a queue keeps slots it grew at a coarser dt).
    /// </summary>
    private static bool StateShapeFits(long[] saved, long[] reset, long[] declared)
    {
        if (saved.Length != reset.Length) return false;
        if (reset.SequenceEqual(declared)) return saved.SequenceEqual(reset);
        int differing = 0;
        for (int k = 0; k < saved.Length; k++)
            if (saved[k] != reset[k])
            {
                if (saved[k] < reset[k]) return false;
                differing++;
            }
        return differing <= 1;
    }

    private static void CheckAgainstJson(Tensor t, JsonObject vn, string what, string src)
    {
        if (vn["shape"] is JsonArray shape)
        {
            var s = shape.Select(d => d is JsonValue v && v.TryGetValue(out long x) ? x : -1).ToArray();
            if (!s.SequenceEqual(t.Sizes()))
                throw new CheckpointException(CheckpointProblem.TopologyMismatch, $"{src}: '{what}' is {Shapes.Format(s)} in the manifest but {Shapes.Format(t.Sizes())} in the tensor file.");
        }
        if (vn["dtype"] is JsonValue dv && dv.TryGetValue(out string? dtype) && dtype != SafeTensors.DTypeName(t.dtype))
            throw new CheckpointException(CheckpointProblem.TopologyMismatch, $"{src}: '{what}' is {dtype} in the manifest but {SafeTensors.DTypeName(t.dtype)} in the tensor file.");
    }

    private static string? TensorName(JsonObject vn, string path, string src, bool required)
    {
        if (vn["tensor"] is JsonValue v && v.TryGetValue(out string? s)) return s;
        if (required) throw new CheckpointException(CheckpointProblem.TopologyMismatch, $"{src}: '{path}' has no saved tensor.");
        return null;
    }

    private static Device ParseDevice(string s, string src)
    {
        try { return torch.device(s); }
        catch (Exception e) when (e is not ShipException) { throw Corrupt(src, $"network.device '{s}' is not a device"); }
    }

    private static CheckpointException Corrupt(string src, string what) => new(CheckpointProblem.Corrupted, $"{src}: {what}.");

    private static T Need<T>(JsonObject o, string key, string src) where T : JsonNode =>
        o[key] as T ?? throw Corrupt(src, $"'{key}' is missing or is not a JSON {(typeof(T) == typeof(JsonArray) ? "array" : "object")}");

    private static string Str(JsonObject o, string key, string src) =>
        o[key] is JsonValue v && v.TryGetValue(out string? s) ? s : throw Corrupt(src, $"'{key}' is missing or not a string");

    private static double Dbl(JsonObject o, string key, string src) =>
        Json.TryDouble(o[key], out var d) ? d : throw Corrupt(src, $"'{key}' is missing or not a number");

    private static long Lng(JsonObject o, string key, string src) =>
        o[key] is JsonValue v && v.TryGetValue(out long x) ? x : throw Corrupt(src, $"'{key}' is missing or not an integer");

    private static int Int(JsonObject o, string key, string src) =>
        o[key] is JsonValue v && v.TryGetValue(out int x) ? x : throw Corrupt(src, $"'{key}' is missing or not an integer");

    private static bool Bool(JsonObject o, string key, string src) =>
        o[key] is JsonValue v && v.TryGetValue(out bool x) ? x : throw Corrupt(src, $"'{key}' is missing or not true/false");
}
