using System.Reflection;
using Ship.Core.Groups;
using Ship.Core.Parameters;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using TorchSharp;
using NUnit.Framework;
using static TorchSharp.torch;

namespace Ship.Tests.Conformance;

/// <summary>The catalogue covers every concrete model of the libraries, with settings that are not the defaults, and every entry runs.</summary>
public class ModelCatalogTests
{
    [Test]
    public void EveryConcreteGroupTypeHasAFactory()
    {
        var types = ModelCatalog.ConcreteGroupTypes().ToList();
        // The reflection itself must see the libraries' models, or an empty list would pass.
        Assert.That(types, Does.Contain(typeof(Lif)));
        Assert.That(types, Does.Contain(typeof(Ship.Training.Local.TrainableDelay)));
        var missing = ModelCatalog.MissingModels();
        Assert.That(missing.Count == 0, "no catalogue factory for: " + string.Join(", ", missing.Select(t => t.FullName)));
    }

    [Test]
    public void EveryConcreteWeightDeviceHasAFactory()
    {
        Assert.That(ModelCatalog.ConcreteDeviceTypes(), Is.Not.Empty);
        var missing = ModelCatalog.MissingDevices();
        Assert.That(missing.Count == 0, "no catalogue factory for weight device: " + string.Join(", ", missing.Select(t => t.FullName)));
    }

    [Test]
    public void NamesAreUniqueAndTypesMatchFactories()
    {
        Assert.That(ModelCatalog.All.Select(e => e.Name).Distinct().Count(), Is.EqualTo(ModelCatalog.All.Count));
        foreach (var e in ModelCatalog.All)
        {
            var g = e.Create();
            Assert.That(g.GetType(), Is.EqualTo(e.ModelType));
            if (e.DeviceType is { } d) Assert.That(((WeightedSynapse)Core(g)).WeightDevice!.GetType(), Is.EqualTo(d));
        }
    }

    /// <summary>
    /// Where a type can be built from its required arguments alone, the entry's parameter settings must differ from that
    /// default instance in at least one parameter (types without parameters of their own are exempt).
    /// </summary>
    [Test]
    public void SettingsAreNotTheDefaults()
    {
        int compared = 0;
        foreach (var e in ModelCatalog.All.Where(e => e.DeviceType is null))
        {
            var configured = e.Create();
            if (configured.Parameters.Count == 0) continue;
            var plain = DefaultInstance(e.ModelType, configured);
            if (plain is null) continue;
            compared++;
            var a = configured.AllVariables.OfType<Parameter>().Select(p => p.Name + "=" + p.Spec.Describe()).ToList();
            var b = plain.AllVariables.OfType<Parameter>().Select(p => p.Name + "=" + p.Spec.Describe()).ToList();
            Assert.That(!a.SequenceEqual(b), $"catalogue entry {e.Name} uses the default settings ({string.Join(", ", a)})");
        }
        Assert.That(compared >= 10, $"only {compared} entries could be compared with a default instance");
    }

    [TestCaseSource(typeof(ModelCatalog), nameof(ModelCatalog.Names))]
    public void EveryEntryBuildsAndRuns(string name)
    {
        var c = ModelCatalog.Get(name).Build(seed: 3);
        using var scope = torch.NewDisposeScope();
        var r = c.Network.Run(c.Inputs(30), new Ship.Core.Clocks.Schedule((ModelCatalog.Dt, 30)));
        Assert.That(r.Outputs, Is.Not.Empty);
        foreach (var (tag, y) in r.Outputs)
        {
            Assert.That(y.shape.Take(2).ToArray(), Is.EqualTo(new long[] { ModelCatalog.Batch, 30 }));
            Assert.That(y.isfinite().all().item<bool>(), $"{name}: output {tag} is not finite");
        }
        Assert.That(c.Network[c.ModelTag], Is.SameAs(c.Model));
        // A silent model would make every equivalence test trivially true.
        Assert.That(r.Outputs[c.ModelTag].abs().sum().item<double>(), Is.GreaterThan(0), $"{name}: the model's output is all zero");
        foreach (var (tag, y) in r.Outputs)
            Assert.That(y.abs().sum().item<double>(), Is.GreaterThan(0), $"{name}: output {tag} is all zero");
    }

    [Test]
    public void SameSeedSameCaseDifferentSeedDifferentData()
    {
        var a = ModelCatalog.Get("Lif").Build(1).Inputs(20)["I"];
        var b = ModelCatalog.Get("Lif").Build(1).Inputs(20)["I"];
        var c = ModelCatalog.Get("Lif").Build(2).Inputs(20)["I"];
        var longer = ModelCatalog.Get("Lif").Build(1).Inputs(30)["I"];
        Assert.That(a.equal(b).all().item<bool>());
        Assert.That(!a.equal(c).all().item<bool>());
        Assert.That(a.equal(longer.narrow(1, 0, 20)).all().item<bool>(), "a longer run's data starts with the shorter run's");
    }

    private static Group Core(Group g) => g is GroupWrapper w ? w.Core : g;

    private static Group? DefaultInstance(Type type, Group like)
    {
        foreach (var ctor in type.GetConstructors().OrderBy(c => c.GetParameters().Count(p => !p.IsOptional)))
        {
            var args = new List<object?>();
            bool ok = true;
            foreach (var p in ctor.GetParameters())
            {
                if (p.IsOptional) { args.Add(p.DefaultValue is DBNull ? null : p.DefaultValue); continue; }
                object? v = p.ParameterType switch
                {
                    var t when t == typeof(int) => like.ComponentCount,
                    var t when t == typeof(WeightedSynapse) => new Dense(),
                    var t when t == typeof(Group) && like is GroupWrapper w => InnerDefault(w.Inner),
                    _ => null,
                };
                if (v is null) { ok = false; break; }
                args.Add(v);
            }
            if (!ok) continue;
            try { return (Group)ctor.Invoke(args.ToArray()); }
            catch (TargetInvocationException) { }
        }
        return null;
    }

    // A wrapper's own parameters are compared; the inner group is rebuilt with its defaults of the same size.
    private static Group? InnerDefault(Group inner) => inner is GroupWrapper w ? null : DefaultInstance(inner.GetType(), inner);
}
