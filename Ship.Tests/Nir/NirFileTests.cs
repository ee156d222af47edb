using NUnit.Framework;
using PureHDF;
using Ship.Core.Errors;
using Ship.Nir;
using Ship.Tests.Datasets;
using static Ship.Tests.Nir.NirTestKit;

namespace Ship.Tests.Nir;

/// <summary>The HDF5 layer: both layouts read, read → write → read is the identity, malformed files give typed errors naming the path.</summary>
public class NirFileTests
{
    [Test]
    public void ReadsThePaperFileInThe01Layout()
    {
        var doc = NirFile.Read(Data("lif_norse.nir"));
        Assert.That(doc.Version, Is.EqualTo("0.1.1"));
        var g = doc.Root;
        Assert.That(g.Type, Is.EqualTo("NIRGraph"));
        Assert.That(g.Nodes.Select(n => n.Key), Is.EquivalentTo(new[] { "0", "1", "input", "output" }));
        Assert.That(g.Edges, Is.EqualTo(new[] { ("input", "0"), ("0", "1"), ("1", "output") }));
        var affine = g.Node("0")!;
        Assert.That(affine.Type, Is.EqualTo("Affine"));
        var w = (NirArray)affine.Values["weight"];
        Assert.That(w.DType, Is.EqualTo(NirDType.Float32));
        Assert.That(w.Shape, Is.EqualTo(new long[] { 1, 1 }));
        Assert.That(w.Data, Is.EqualTo(new[] { 1.0 }));
        var lif = g.Node("1")!;
        Assert.That(lif.Type, Is.EqualTo("LIF"));
        Assert.That(((NirArray)lif.Values["tau"]).Data[0], Is.EqualTo((double)0.0025f));
        Assert.That(((NirArray)lif.Values["v_threshold"]).Data[0], Is.EqualTo((double)0.1f));
        Assert.That(lif.Values.ContainsKey("v_reset"), Is.False, "0.1.x files have no v_reset");
        Assert.That(((NirArray)g.Node("input")!.Values["shape"]).DType, Is.EqualTo(NirDType.Int64));
    }

    [Test]
    public void ReadsTheCurrentLayout()
    {
        var doc = NirFile.Read(Data("two_lif_neurons.nir"));
        Assert.That(doc.Version, Is.EqualTo("0.2.0"));
        Assert.That(doc.Root.Edges, Has.Count.EqualTo(5));
        var lif1 = doc.Root.Node("lif1")!;
        Assert.That(((NirArray)lif1.Values["v_leak"]).Data, Is.EqualTo(new[] { 1.2 }));
        Assert.That(((NirArray)lif1.Values["v_leak"]).DType, Is.EqualTo(NirDType.Float64));
    }

    [TestCase("lif_norse.nir", "LIF", "tau")]
    [TestCase("two_lif_neurons.nir", "LIF", "tau")]
    [TestCase("cnn_sinabs.nir", "Conv2d", "weight")]
    [TestCase("braille_noDelay_bias_zero.nir", "CubaLIF", "tau_mem")]
    public void ReadWriteReadIsTheIdentity(string name, string nodeType, string array)
    {
        using var dir = new TempDir();
        var first = NirFile.Read(Data(name));
        NirFile.Write(dir.File("copy.nir"), first);
        var second = NirFile.Read(dir.File("copy.nir"));
        Assert.That(second.Version, Is.EqualTo(first.Version));
        Assert.That(second.Root.SameAs(first.Root, out var diff), Is.True, diff);
        // And the rewrite compresses its arrays (chunked, deflate), as NIR's writer does.
        using var f = H5File.OpenRead(dir.File("copy.nir"));
        string node = first.Root.Nodes.First(n => n.Value.Type == nodeType).Key;
        Assert.That(f.Dataset($"node/nodes/{node}/{array}").Layout.Class, Is.EqualTo(H5DataLayoutClass.Chunked));
    }

    [Test]
    public void SameAsFindsAChangedValue()
    {
        var a = NirFile.Read(Data("lif_norse.nir")).Root;
        var b = NirFile.Read(Data("lif_norse.nir")).Root;
        var tau = (NirArray)b.Node("1")!.Values["tau"];
        b.Node("1")!.Values["tau"] = tau with { Data = new[] { tau.Data[0] * 2 } };
        Assert.That(a.SameAs(b, out var diff), Is.False);
        Assert.That(diff, Does.Contain("/1/tau"));
    }

    [Test]
    public void MetadataAndNestedGraphsRoundTrip()
    {
        using var dir = new TempDir();
        var inner = new NirNode("NIRGraph");
        inner.Nodes.Add(new("in", new NirNode("Input").With("shape", NirArray.Ints(2))));
        inner.Nodes.Add(new("gain", new NirNode("Scale").With("scale", NirArray.Vector(2, 3))));
        inner.Nodes.Add(new("out", new NirNode("Output").With("shape", NirArray.Ints(2))));
        inner.Edges.Add(("in", "gain"));
        inner.Edges.Add(("gain", "out"));
        var g = new NirNode("NIRGraph");
        g.Nodes.Add(new("input", new NirNode("Input").With("shape", NirArray.Ints(2))));
        g.Nodes.Add(new("sub", inner));
        g.Nodes.Add(new("output", new NirNode("Output").With("shape", NirArray.Ints(2))));
        g.Edges.Add(("input", "sub"));
        g.Edges.Add(("sub", "output"));
        g.Metadata["dt"] = NirArray.Vector(1e-3);
        g.Metadata["note"] = new NirText("hello");
        g.Node("sub")!.Node("gain")!.Metadata["ship_model"] = new NirText("Scale");
        NirFile.Write(dir.File("g.nir"), new NirDocument("1.0.0", g));
        var back = NirFile.Read(dir.File("g.nir")).Root;
        Assert.That(back.SameAs(g, out var diff), Is.True, diff);
    }

    // Found by the cnn_sinabs round trip: scalars (a convolution's groups, stride) were all written as float64.
    [Test]
    public void ScalarsKeepTheirElementType()
    {
        using var dir = new TempDir();
        var g = new NirNode("NIRGraph");
        g.Nodes.Add(new("c", new NirNode("Conv1d").With("groups", NirArray.Int(3)).With("f32", new NirArray(new[] { 0.5 }, Array.Empty<long>(), NirDType.Float32))
            .With("f64", new NirArray(new[] { 0.1 }, Array.Empty<long>(), NirDType.Float64)).With("u8", new NirArray(new[] { 200.0 }, Array.Empty<long>(), NirDType.UInt8))));
        NirFile.Write(dir.File("s.nir"), new NirDocument("1.0.0", g));
        var back = NirFile.Read(dir.File("s.nir")).Root;
        Assert.That(back.SameAs(g, out var diff), Is.True, diff);
        using var f = H5File.OpenRead(dir.File("s.nir"));
        var groups = f.Dataset("node/nodes/c/groups");
        Assert.That(groups.Type.Class, Is.EqualTo(H5DataTypeClass.FixedPoint));
        Assert.That(groups.Type.Size, Is.EqualTo(8));
        Assert.That(groups.Read<long>(), Is.EqualTo(3L));
        Assert.That(f.Dataset("node/nodes/c/f32").Type.Size, Is.EqualTo(4));
        Assert.That(f.Dataset("node/nodes/c/u8").Type.Size, Is.EqualTo(1));
    }

    [Test]
    public void GraphWithoutEdgesRoundTrips()
    {
        using var dir = new TempDir();
        var g = new NirNode("NIRGraph");
        g.Nodes.Add(new("input", new NirNode("Input").With("shape", NirArray.Ints(3))));
        NirFile.Write(dir.File("e.nir"), new NirDocument("1.0.0", g));
        var back = NirFile.Read(dir.File("e.nir")).Root;
        Assert.That(back.Edges, Is.Empty);
        Assert.That(back.SameAs(g, out var diff), Is.True, diff);
    }

    // ---------------------------------------------------------------- malformed files

    [Test]
    public void NotAnHdf5FileIsAFormatError()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("x.nir"), "not hdf5");
        var e = Assert.Throws<NirFormatException>(() => NirFile.Read(dir.File("x.nir")))!;
        Assert.That(e.File, Is.EqualTo(dir.File("x.nir")));
        Assert.That(e, Is.InstanceOf<ShipException>());
        Assert.Throws<MissingFileException>(() => NirFile.Read(dir.File("missing.nir")), "a missing file is not a format error: it says what was found");
    }

    private static string Write(TempDir dir, H5File file)
    {
        string p = dir.File(Guid.NewGuid().ToString("N") + ".nir");
        file.Write(p);
        return p;
    }

    [Test]
    public void MissingNodeGroupNamesThePath()
    {
        using var dir = new TempDir();
        var e = Assert.Throws<NirFormatException>(() => NirFile.Read(Write(dir, new H5File { ["version"] = "0.2.0" })))!;
        Assert.That(e.Path, Is.EqualTo("/node"));
    }

    [Test]
    public void NodeWithoutTypeNamesThePath()
    {
        using var dir = new TempDir();
        var f = new H5File
        {
            ["version"] = "0.2.0",
            ["node"] = new H5Group
            {
                ["type"] = "NIRGraph",
                ["nodes"] = new H5Group { ["lif"] = new H5Group { ["tau"] = new double[] { 1 } } },
                ["edges"] = new string[0, 2],
            },
        };
        var e = Assert.Throws<NirFormatException>(() => NirFile.Read(Write(dir, f)))!;
        Assert.That(e.Path, Is.EqualTo("/node/nodes/lif/type"));
    }

    [Test]
    public void EdgeToAnUnknownNodeNamesTheEdges()
    {
        using var dir = new TempDir();
        var f = new H5File
        {
            ["version"] = "0.2.0",
            ["node"] = new H5Group
            {
                ["type"] = "NIRGraph",
                ["nodes"] = new H5Group { ["a"] = new H5Group { ["type"] = "Input", ["shape"] = new long[] { 1 } } },
                ["edges"] = new[,] { { "a", "ghost" } },
            },
        };
        var e = Assert.Throws<NirFormatException>(() => NirFile.Read(Write(dir, f)))!;
        Assert.That(e.Path, Is.EqualTo("/node/edges"));
        Assert.That(e.Message, Does.Contain("ghost"));
    }

    [Test]
    public void EdgesOfTheWrongShapeAreAFormatError()
    {
        using var dir = new TempDir();
        var f = new H5File
        {
            ["version"] = "0.2.0",
            ["node"] = new H5Group
            {
                ["type"] = "NIRGraph",
                ["nodes"] = new H5Group(),
                ["edges"] = new[,] { { "a", "b", "c" } },
            },
        };
        var e = Assert.Throws<NirFormatException>(() => NirFile.Read(Write(dir, f)))!;
        Assert.That(e.Path, Is.EqualTo("/node/edges"));
    }
}
